"""Words people use for the same thing, applied at query time (reviewed list; see tests).

Each entry is a set of phrases that mean the same to someone searching: a search for any of
them finds listings that use any other. Phrases are matched on whole words, after folding
case and accents; the longest phrase wins ("pregnancy after loss" before "loss").
"""

from __future__ import annotations

import unicodedata

SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("tfmr", "termination for medical reasons", "ending a wanted pregnancy"),
    ("dads", "dad", "fathers", "father", "partners", "partner"),
    ("stillborn", "stillbirth", "still birth"),
    ("baby loss", "pregnancy loss"),
    ("rainbow", "pregnancy after loss", "rainbow pregnancy"),
    ("nicu", "neonatal", "neonatal death"),
    ("miscarriage", "miscarried"),
    ("online", "virtual", "zoom", "video"),
    ("spanish", "espanol", "castellano"),
    ("welsh", "cymraeg"),
)


def fold(text: str) -> str:
    """Lower case without accents: what synonyms are matched on."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _table() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    table: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for group in SYNONYMS:
        phrases = tuple(tuple(fold(p).split()) for p in group)
        for phrase in phrases:
            table[phrase] = phrases
    return table


TABLE = _table()
LONGEST = max(len(k) for k in TABLE)


def concepts(words: list[str]) -> list[tuple[tuple[str, ...], ...]]:
    """Folded words -> concepts: each a tuple of alternative phrases (tuples of words).

    ["dads", "evening"] -> [(("dads",), ("dad",), ("fathers",), ...), (("evening",),)]
    """
    out: list[tuple[tuple[str, ...], ...]] = []
    i = 0
    while i < len(words):
        for size in range(min(LONGEST, len(words) - i), 0, -1):
            phrase = tuple(words[i:i + size])
            if phrase in TABLE:
                out.append(TABLE[phrase])
                i += size
                break
        else:
            out.append(((words[i],),))
            i += 1
    return out
