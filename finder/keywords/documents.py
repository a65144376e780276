"""What the index holds of a group, read from the database (rebuild, sync and check alike).

Only active groups are indexed; a paused or withdrawn group is removed. Tags carry the
vocabulary's labels and the words people use for them (`finder.vocab` synonyms), so "NICU"
finds a group tagged neonatal death; `when` carries the format and the days and times of day
the group meets (from `groups.meeting_slots`), so "evening" and "online" are words too.

`attrs` holds the group's filter values as terms (`loss:stillbirth`, `audience:partners`,
`language:cy`, `cost:free`, `join:drop_in`, `served:GB`, and each meeting slot,
`slot:1:evening`), so a keyword search narrows its matches to those that can pass its
filters before it asks the database (which still tests every filter), and counts the facets
of the groups it found without asking it again (`finder.keywords.attributes`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from finder import vocab
from finder.keywords import analysis

# the columns migration 0010 watches, and the organisation's and venue's names
DOCUMENT_SQL = """
    SELECT g.id, g.status, g.name, g.description, g.format, g.loss_types, g.audiences,
           g.languages, g.meeting_slots, o.name, l.venue_name, l.town, g.service_countries,
           g.cost, g.join_mode
      FROM groups g
      LEFT JOIN organisations o ON o.id = g.organisation_id
      LEFT JOIN locations l ON l.id = g.location_id"""


_CODE_WORDS: dict[tuple[int, str], tuple[str, ...]] = {}


def _code_words(v: vocab.Vocabulary, code: str) -> tuple[str, ...]:
    """A code's label and the vocabulary's other words for it (made once per code)."""
    key = (id(v), code)
    found = _CODE_WORDS.get(key)
    if found is None:
        found = _CODE_WORDS[key] = (v.label(code), *(word for word, c in v.synonyms.items()
                                                     if c == code))
    return found


def _words_for(v: vocab.Vocabulary, codes: list[str] | None) -> list[str]:
    return [word for code in codes or () for word in _code_words(v, code)]


def _when(format_code: str, slots: list[str] | None) -> list[str]:
    out = _words_for(vocab.FORMAT, [format_code])
    for slot in slots or ():
        day, _, band = slot.partition(":")
        if day != "*" and band == "*":
            out.append(vocab.DAYS.label(vocab.DAYS.codes[int(day)]))
        elif day == "*" and band != "*":
            out.append(band)
    return out


def attributes(loss: list[str] | None, audiences: list[str] | None,
               languages: list[str] | None, cost: str | None, join: str | None,
               served: list[str] | None, slots: list[str] | None) -> str:
    """The `attrs` terms of a group: its filter values, as the search's filters name them."""
    return " ".join(attribute_term(kind, value) for kind, values in (
        ("loss", loss), ("audience", audiences), ("language", languages),
        ("cost", [cost] if cost else None), ("join", [join] if join else None),
        ("served", served), ("slot", slots)) for value in values or ())


def attribute_term(kind: str, value: str) -> str:
    """One `attrs` term, as indexed and as searched for (one word: the field splits on
    spaces)."""
    return f"{kind}:{value}".replace(" ", "_")


def document(row: tuple) -> dict | None:
    """A database row (DOCUMENT_SQL) -> the fields to index; None when not indexed."""
    (gid, status, name, description, format_code, loss, audiences, languages, slots,
     organisation, venue, town, served, cost, join) = row
    if status != "active":
        return None
    tags = " ".join(_words_for(vocab.LOSS, loss) + _words_for(vocab.AUDIENCE, audiences)
                    + _words_for(vocab.LANGUAGE, languages))
    fields = {
        "name": name or "", "description": description or "", "tags": tags,
        "organisation": organisation or "", "place": " ".join(filter(None, (venue, town))),
        "when": " ".join(_when(format_code, slots)),
    }
    attrs = attributes(loss, audiences, languages, cost, join, served, slots)
    fingerprint = hashlib.blake2b("\x1f".join([*fields.values(), attrs]).encode(),
                                  digest_size=8).hexdigest()
    # words for "did you mean": names, tags, organisation and place (the description's
    # words too would make indexing half as fast again, for suggestions rarely needed)
    spell = " ".join(fields[f] for f in ("name", "tags", "organisation", "place"))
    # each part once, with its weight (analysis.WeightedText counts its words that often)
    text = [(fields[part], times) for part, times in analysis.WEIGHTS.items() if fields[part]]
    return {"id": str(gid), "gid": gid, "fingerprint": fingerprint, "format": format_code,
            "attrs": attrs, "spell": spell, "text": text}


def rows(cursor, where: str = "", params: dict | None = None,
         batch: int = 2000) -> Iterator[tuple]:
    """Rows of DOCUMENT_SQL, streamed (a server-side cursor when there are many)."""
    cursor.execute(DOCUMENT_SQL + where, params or {})
    while chunk := cursor.fetchmany(batch):
        yield from chunk
