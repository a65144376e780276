"""The reviewed synonyms list and how a searcher's words become a query (no database)."""

from __future__ import annotations

import pytest

from finder.keywords import query, synonyms


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
    out = query.snippet('<img src=x onerror=alert(1)> dads & "partners"', frozenset({"dad"}))
    assert "<img" not in out and "onerror=alert(1)&gt;" in out
    assert '<mark class="match t0">dads</mark>' in out
