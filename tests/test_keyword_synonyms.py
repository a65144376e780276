"""The reviewed synonyms list and how a searcher's words become a query (no database)."""

from __future__ import annotations

import pytest

from finder.keywords import query, snippets, synonyms


@pytest.mark.parametrize("a, b", [
    ("tfmr", "termination for medical reasons"), ("dads", "fathers"), ("dads", "partners"),
    ("stillborn", "stillbirth"), ("baby loss", "pregnancy loss"),
    ("rainbow", "pregnancy after loss"), ("nicu", "neonatal"),
])
def test_the_issue_synonyms_are_in_the_list(a, b):
    [concept] = synonyms.concepts(synonyms.fold(a).split())
    assert tuple(synonyms.fold(b).split()) in concept


def test_the_longest_phrase_wins_and_other_words_stay():
    concepts = synonyms.concepts(["pregnancy", "after", "loss", "evening"])
    assert ("rainbow",) in concepts[0] and concepts[1] == (("evening",),)


def test_every_synonym_phrase_appears_once():
    phrases = [synonyms.fold(p) for group in synonyms.SYNONYMS for p in group]
    assert len(phrases) == len(set(phrases))


@pytest.mark.parametrize("text", ['"', "*", ":", "(", ")", "AND", "OR NOT", "a:b", "x~2",
                                  "[a TO b]", "^", "\\", "'", "the and of"])
def test_syntax_characters_and_stop_words_build_no_query_or_a_plain_one(text):
    every, some = query.build(text)
    assert every is None or all(type(leaf).__name__ in ("Term", "FuzzyTerm")
                                for leaf in every.leaves())


def test_words_fold_case_and_accents():
    assert query.words("Grupo en ESPAÑOL") == ["grupo", "en", "espanol"]


def test_snippets_escape_publishers_text():
    out = snippets.snippet('<img src=x onerror=alert(1)> dads & "partners"', frozenset({"dad"}))
    assert "<img" not in out and "onerror=alert(1)&gt;" in out
    assert '<mark class="match t0">dads</mark>' in out


def test_a_snippet_shows_the_passages_with_most_matched_words():
    """Words are matched as the index reads them (case, accents, stems); the two passages
    with most of them are shown in the text's order, whole words, without overlapping;
    each distinct word has its own number."""
    filler = "we share tea and talk about the weeks that follow " * 3
    text = (f"Fathers welcome. {filler}One father spoke. {filler}A dad's evening: fathers, "
            f"dads and FATHERS. {filler}The end.")
    out = snippets.snippet(text, frozenset({"father", "dad"}))
    first, second = out.split(" … ")
    assert first.startswith('<mark class="match t0">Fathers</mark> welcome.')
    assert "spoke" not in out  # the single "father" in the middle scored less
    assert second.count("<mark") == 4 and '<mark class="match t1">dads</mark>' in second
    assert '<mark class="match t0">FATHERS</mark>' in second
    for passage in (first, second):
        plain = passage.replace("</mark>", "").replace('<mark class="match t0">', "")
        plain = plain.replace('<mark class="match t1">', "")
        assert len(plain) <= snippets.MAX_CHARS and plain in text  # whole words of it
    assert snippets.snippet(text, frozenset({"mother"})) is None
    assert snippets.snippet("", frozenset({"dad"})) is None
