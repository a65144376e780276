"""A result's snippet: the passages of its description where the searched words are, the
words marked, the text HTML-escaped (it comes from publishers).

Words are found as the index reads them (the text analyzer's tokenizer and its cached
per-word analysis, `analysis.text_words`), so "fathers" marks "Fathers" and "father's".
Whoosh's own highlighter did the same through a generic token pipeline at about 0.3 ms a
description, a quarter of a keyword search's Python; this reads each description once with
one regular expression (docs/benchmarks.md).

The passages follow Whoosh's context fragments: each starts up to `SURROUND` characters
before a marked word, takes in the marked words that follow while it stays within
`MAX_CHARS`, and ends up to `SURROUND` characters after its last one, on word boundaries;
the `TOP` passages with the most marked words are shown in the text's order, joined by
" … ". Marks are `<mark class="match tN">`, N numbering the distinct words in order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from html import escape

from finder.keywords import analysis

MAX_CHARS = 220
SURROUND = 60
TOP = 2
BETWEEN = " … "


def snippet(text: str | None, terms: frozenset[str]) -> str | None:
    """The description's best passages with matched words in <mark>, HTML-escaped
    throughout; None when nothing in it matched."""
    if not text or not terms:
        return None
    words = analysis.text_words
    starts: list[int] = []  # every word's start and end
    ends: list[int] = []
    marked: list[tuple[int, str]] = []  # (word number, analysed word) of the matched ones
    for m in words.pattern.finditer(text):
        stem = words.word(m.group(0))
        if stem in terms:
            marked.append((len(starts), stem))
        starts.append(m.start())
        ends.append(m.end())
    if not marked:
        return None
    passages = _passages(marked, starts, ends)
    best = sorted(passages, key=lambda p: (-len(p[2]), p[0]))[:TOP]
    numbers: dict[str, int] = {}
    return BETWEEN.join(_marked(text, start, end, found, starts, ends, numbers)
                        for start, end, found in sorted(best))


def _passages(marked: list[tuple[int, str]], starts: list[int], ends: list[int]
              ) -> list[tuple[int, int, list[tuple[int, str]]]]:
    """(first char, end char, the marked words in it) of each passage, in text order."""
    out: list[tuple[int, int, list[tuple[int, str]]]] = []
    i = 0
    while i < len(marked):
        first = marked[i][0]
        after = out[-1][1] if out else 0  # passages never overlap
        begin = starts[bisect_left(starts, max(starts[first] - SURROUND, after))]
        found = [marked[i]]
        i += 1
        while i < len(marked) and ends[marked[i][0]] - begin <= MAX_CHARS - SURROUND:
            found.append(marked[i])
            i += 1
        last = found[-1][0]
        limit = min(ends[last] + SURROUND, begin + MAX_CHARS)
        stop = max(last, bisect_right(ends, limit) - 1)  # the last word ending by the limit
        if i < len(marked):  # and before the next passage's first marked word
            stop = min(stop, marked[i][0] - 1)
        out.append((begin, ends[stop], found))
    return out


def _marked(text: str, start: int, end: int, found: list[tuple[int, str]],
            starts: list[int], ends: list[int], numbers: dict[str, int]) -> str:
    parts, at = [], start
    for word, stem in found:
        n = numbers.setdefault(stem, len(numbers))
        parts.append(escape(text[at:starts[word]], quote=False))
        parts.append(f'<mark class="match t{n}">'
                     f'{escape(text[starts[word]:ends[word]], quote=False)}</mark>')
        at = ends[word]
    parts.append(escape(text[at:end], quote=False))
    return "".join(parts)
