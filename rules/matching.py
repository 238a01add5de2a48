"""Token-aware fuzzy phrase matching (rapidfuzz): text normalization and best phrase match with its word span."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from rules.events import Utterance
from rules.matching_stopwords import STOPWORDS
from rules.matching_text import normalize, normalize_tokens

__all__ = [
    "PhraseMatch", "PhraseMatcher", "TextView", "normalize", "normalize_tokens", "phrase_matcher", "text_view",
    "utterance_layout", "utterance_view",
]

@dataclass(frozen=True, slots=True)
class TextView:
    """An utterance as normalized tokens, with each token's audio time span and its char offset in `text`."""

    tokens: tuple[str, ...]
    text: str
    offsets: tuple[int, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    stems: frozenset[str]

    def span_text(self, first: int, last: int) -> str:
        """Tokens first..last-1 joined by spaces (a slice of `text`, which joins all tokens by single spaces)."""
        if first >= last:
            return ""
        return self.text[self.offsets[first] : self.offsets[last - 1] + len(self.tokens[last - 1])]


def _content_stems(tokens: Sequence[str]) -> frozenset[str]:
    """Stems of the tokens that carry content (3+ letters, not a stopword): the prefilter's keys."""
    return frozenset([t[:4] for t in tokens if len(t) >= 3 and t not in STOPWORDS])  # a stem: 4 letters


def text_view(tokens: Sequence[str], starts: Sequence[float], ends: Sequence[float]) -> TextView:
    """A TextView over already-normalized tokens with their times."""
    offsets: list[int] = []
    position = 0
    for token in tokens:
        offsets.append(position)
        position += len(token) + 1
    return TextView(
        tokens=tuple(tokens),
        text=" ".join(tokens),
        offsets=tuple(offsets),
        starts=tuple(starts),
        ends=tuple(ends),
        stems=_content_stems(tokens),
    )


@dataclass(frozen=True, slots=True)
class _WordsLayout:
    """The time-free part of a TextView over words: its tokens and the word each token came from."""

    view: TextView
    word_of: tuple[int, ...]
    one_token_per_word: bool


@lru_cache(maxsize=4096)
def _words_layout(words: tuple[str, ...]) -> _WordsLayout | None:
    """Normalized tokens of a word sequence (memoized: partials and scripted lines repeat), None if none."""
    tokens: list[str] = []
    word_of: list[int] = []
    for index, word in enumerate(words):
        for token in normalize_tokens(word):
            tokens.append(token)
            word_of.append(index)
    if not tokens:
        return None
    view = text_view(tokens, (), ())
    return _WordsLayout(view, tuple(word_of), word_of == list(range(len(words))))


def _view_from_words(utterance: Utterance, layout: _WordsLayout) -> TextView:
    words = utterance.words
    if layout.one_token_per_word:
        starts = tuple([w.start for w in words])
        ends = tuple([w.end for w in words])
    else:
        starts = tuple([words[i].start for i in layout.word_of])
        ends = tuple([words[i].end for i in layout.word_of])
    view = layout.view
    return TextView(view.tokens, view.text, view.offsets, starts, ends, view.stems)


@lru_cache(maxsize=4096)
def _text_layout(text: str) -> TextView:
    """The time-free part of a TextView over a text (no times): tokens, joined text, offsets, stems."""
    return text_view(normalize_tokens(text), (), ())


def _joined(head: TextView, tail: TextView) -> TextView:
    """The layout of head's text, whitespace, tail's text: normalization works word by word (words split at
    whitespace), so the tokens are head's then tail's."""
    if not tail.tokens:
        return head
    if not head.tokens:
        return tail
    shift = len(head.text) + 1
    offsets = head.offsets + tuple([offset + shift for offset in tail.offsets])
    return TextView(head.tokens + tail.tokens, f"{head.text} {tail.text}", offsets, (), (), head.stems | tail.stems)


_growing: dict[int, tuple[str, TextView]] = {}
"""Per channel, the last text laid out and its layout: a recognizer's next partial usually extends it by a word."""


def _growing_layout(text: str, channel: int) -> TextView:
    """`_text_layout(text)`, built from the channel's previous text when `text` extends it at a word boundary."""
    last = _growing.get(channel)
    if last is not None and last[0] == text:
        return last[1]
    if last is not None and text.startswith(last[0]) and (
        not last[0] or last[0][-1].isspace() or text[len(last[0])].isspace()
    ):
        layout = _joined(last[1], _text_layout(text[len(last[0]) :]))
    else:
        layout = _text_layout(text)
    if len(_growing) >= 64 and channel not in _growing:
        _growing.clear()
    _growing[channel] = (text, layout)
    return layout


def _view_from_text(utterance: Utterance, layout: TextView) -> TextView:
    tokens = layout.tokens
    count = max(len(tokens), 1)
    begin, finish = utterance.start, max(utterance.end, utterance.start)
    step = (finish - begin) / count
    if step == 0.0:  # a partial (start = end): every token at `begin` (+ 0.0, as the general formula gives)
        starts = ends = (begin + 0.0,) * len(tokens)
    else:
        starts = tuple([begin + i * step for i in range(len(tokens))])
        ends = tuple([begin + (i + 1) * step for i in range(len(tokens))])
    return TextView(tokens, layout.text, layout.offsets, starts, ends, layout.stems)


_last_layout: list[tuple[Utterance, TextView, _WordsLayout | None]] = []
_last_view: list[tuple[Utterance, TextView]] = []


def _layouts(utterance: Utterance) -> tuple[TextView, _WordsLayout | None]:
    """The utterance's time-free layout, and its words' layout when the view's tokens come from `words`.

    The last result is memoized by identity, because the engine hands the same event to every rule."""
    if _last_layout and _last_layout[0][0] is utterance:
        return _last_layout[0][1], _last_layout[0][2]
    words = _words_layout(tuple([w.text for w in utterance.words])) if utterance.words else None
    layout = words.view if words is not None else _growing_layout(utterance.text, utterance.channel)
    _last_layout[:] = [(utterance, layout, words)]
    return layout, words


def utterance_layout(utterance: Utterance) -> TextView:
    """`utterance_view(utterance)` without times (`starts`/`ends` empty): its tokens, text, offsets and stems."""
    return _layouts(utterance)[0]


def utterance_view(utterance: Utterance) -> TextView:
    """The normalized view of an utterance; tokens and times come from `words` when it has any, else from
    `text` with times spread evenly over the utterance.

    The last result is memoized by identity, because the engine hands the same event to every rule.
    """
    if _last_view and _last_view[0][0] is utterance:
        return _last_view[0][1]
    layout, words = _layouts(utterance)
    view = _view_from_words(utterance, words) if words is not None else _view_from_text(utterance, layout)
    _last_view[:] = [(utterance, view)]
    return view


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """The best occurrence of a phrase: similarity 0..1, token span [first, last) and its audio times."""

    phrase: str
    similarity: float
    first: int
    last: int
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class _Phrase:
    original: str
    text: str
    stems: frozenset[str]
    min_hits: int


@lru_cache(maxsize=4096)
def _candidate_spans(first: int, last: int, size: int) -> tuple[tuple[int, int], ...]:
    spans = {(first, last)}
    for a, b in ((first + 1, last), (first, last - 1), (first - 1, last), (first, last + 1)):
        if 0 <= a < b <= size:
            spans.add((a, b))
    return tuple(sorted(spans))


_Found = tuple[str, float, int, int]
"""A best match without times: (phrase as written, similarity, first token, last token + 1)."""


def _located(found: _Found, view: TextView) -> PhraseMatch:
    """The match `found` with its times and text taken from `view`."""
    phrase, similarity, first, last = found
    return PhraseMatch(phrase, similarity, first, last, view.starts[first], view.ends[last - 1],
                       view.span_text(first, last))


def _similarity_bound(phrase: str, text: str) -> float:
    """An upper bound of `fuzz.ratio(phrase, span) / 100` for every substring `span` of `text`.

    ratio = 2·LCS(phrase, span) / (|phrase| + |span|), and LCS(phrase, span) ≤ min(L, |span|) with
    L = LCS(phrase, text); that fraction is largest at |span| = L, giving 2L / (|phrase| + L)."""
    common = LCSseq.similarity(phrase, text)
    return 2.0 * common / (len(phrase) + common) if common else 0.0


_WORD_CODES_MAX = 65536
"""Words each PhraseMatcher classifies before its table is cleared (bounds memory on open vocabularies)."""
_MEMO_SIZE = 4096
"""Results each PhraseMatcher remembers (oldest dropped first)."""


@lru_cache(maxsize=1024)
def phrase_matcher(phrases: tuple[str, ...]) -> PhraseMatcher:
    """A shared matcher (immutable but for its result memo) for a phrase list: per-call rules do not rebuild it."""
    return PhraseMatcher(phrases)


class PhraseMatcher:
    """Finds the best-matching phrase of a list inside utterances, word-aligned (no subset false matches).

    The similarity is `fuzz.ratio` between the phrase and a contiguous run of utterance words, so a short
    phrase never scores 100 merely because its words occur somewhere in a long unrelated sentence.
    `partial_ratio_alignment` locates the candidate run; the run is snapped to word boundaries and rescored.
    A cheap prefilter skips phrases too few of whose content-word stems (first 4 letters, stopwords left
    out) occur in the utterance: one for phrases with up to three content words, two for longer ones.
    """

    def __init__(self, phrases: Sequence[str]) -> None:
        items: list[_Phrase] = []
        for original in phrases:
            tokens = normalize_tokens(original)
            if not tokens:
                continue
            stems = _content_stems(tokens)
            min_hits = 0 if not stems else (1 if len(stems) <= 3 else 2)
            items.append(_Phrase(original, " ".join(tokens), stems, min_hits))
        self._phrases = tuple(items)
        self.phrases: tuple[str, ...] = tuple(p.original for p in items)
        """The phrases as written (those that normalize to at least one token)."""
        by_stem: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            for stem in item.stems:
                by_stem.setdefault(stem, []).append(i)
        self._by_stem = {stem: tuple(ids) for stem, ids in by_stem.items()}
        self._always = tuple(i for i, item in enumerate(items) if item.min_hits == 0)
        self._stems = frozenset(self._by_stem)
        self._memo: dict[tuple[str, float], _Found | None] = {}
        self._word_codes: dict[str, int] = {}
        """Per word: 0 when it normalizes to no token, 2 when one of its stems is a phrase's stem, else 1."""

    def _candidates(self, view: TextView) -> list[int]:
        """Indexes of the phrases sharing enough word stems with `view` to be worth a fuzzy comparison."""
        hits: dict[int, int] = dict.fromkeys(self._always, 0)
        for stem in view.stems:
            for i in self._by_stem.get(stem, ()):
                hits[i] = hits.get(i, 0) + 1
        return sorted(i for i, count in hits.items() if count >= self._phrases[i].min_hits)

    def cannot_match(self, view: TextView) -> bool:
        """True when `best(view, floor)` is surely None for any floor (no phrase shares a needed word stem)."""
        return not view.tokens or not self._phrases or (not self._always and self._stems.isdisjoint(view.stems))

    def surely_unmatched(self, utterance: Utterance) -> bool:
        """True when `cannot_match(utterance_layout(utterance))` holds, told from the words alone (False: unsure).

        Exact: the layout's tokens and stems are those of its whitespace words (or `words`) put together."""
        if not self._phrases:
            return True
        if self._always:
            return False
        words = utterance.words
        codes = self._word_codes
        top = 0
        for text in [w.text for w in words] if words else utterance.text.split():
            code = codes.get(text)
            if code is None:
                if len(codes) >= _WORD_CODES_MAX:
                    codes.clear()
                code = codes[text] = self._word_code(text)
            if code > top:
                top = code
                if top == 2:
                    return False
        return top == 1 or not words  # no token in `words` at all: the view comes from the text instead

    def _word_code(self, word: str) -> int:
        tokens = normalize_tokens(word)
        if not tokens:
            return 0
        return 1 if self._stems.isdisjoint(_content_stems(tokens)) else 2

    def best_in(self, utterance: Utterance, floor: float = 0.0) -> PhraseMatch | None:
        """`best(utterance_view(utterance), floor)`; the timed view is built only when a phrase matched."""
        if self.surely_unmatched(utterance):
            return None
        found = self._found(utterance_layout(utterance), floor)
        return None if found is None else _located(found, utterance_view(utterance))

    def best(self, view: TextView, floor: float = 0.0) -> PhraseMatch | None:
        """The highest-similarity phrase occurrence in `view` scoring at least `floor` (0..1), or None."""
        found = self._found(view, floor)
        return None if found is None else _located(found, view)

    def _found(self, view: TextView, floor: float) -> _Found | None:
        """The best match's (phrase, similarity, first, last) in a view or time-free layout (times unused).

        Memoized per matcher by (normalized text, floor) in a bounded table (the text determines the tokens):
        scripted lines and their partials recur on every call.
        """
        if not view.tokens or not self._phrases or (not self._always and self._stems.isdisjoint(view.stems)):
            return None
        key = (view.text, floor)
        memo = self._memo
        if key in memo:
            return memo[key]
        found = self._best(view, floor)
        if len(memo) >= _MEMO_SIZE:
            del memo[next(iter(memo))]
        memo[key] = found
        return found

    def _best(self, view: TextView, floor: float) -> _Found | None:
        best: _Found | None = None
        phrases = self._phrases
        for i in self._candidates(view):
            phrase = phrases[i]
            found = self._match_one(phrase, view, max(floor, best[1] if best is not None else 0.0))
            if found is not None and (best is None or found[0] > best[1]):
                best = (phrase.original, *found)
                if found[0] >= 1.0:
                    break
        return best

    def _match_one(self, phrase: _Phrase, view: TextView, floor: float) -> tuple[float, int, int] | None:
        """(similarity, first, last) of the phrase's best word-aligned span scoring at least `floor`, or None."""
        tokens, text, offsets = view.tokens, view.text, view.offsets
        size = len(tokens)
        target = phrase.text
        if floor > 0.0 and _similarity_bound(target, text) < floor - 1e-9:
            return None  # no span of the text can reach the floor: skip the costlier alignment
        if len(text) <= len(target):
            first, last = 0, size
        else:
            cutoff = max(floor * 100.0 - 10.0, 0.0)
            alignment = fuzz.partial_ratio_alignment(target, text, score_cutoff=cutoff)
            if alignment is None:
                return None
            first, last = self._snap(view, alignment.dest_start, alignment.dest_end)
        best_score, best_first, best_last = -1.0, first, last
        ratio = fuzz.ratio
        for a, b in _candidate_spans(first, last, size):
            score = ratio(target, text[offsets[a] : offsets[b - 1] + len(tokens[b - 1])]) / 100.0  # span_text(a, b)
            if score > best_score:
                best_score, best_first, best_last = score, a, b
        if best_score < floor or best_score <= 0.0:
            return None
        return best_score, best_first, best_last

    @staticmethod
    def _snap(view: TextView, char_start: int, char_end: int) -> tuple[int, int]:
        """The tokens overlapping text[char_start:char_end] as [first, last), or all tokens when none does."""
        offsets = view.offsets
        last = bisect_left(offsets, char_end)  # tokens starting before char_end
        first = bisect_right(offsets, char_start) - 1  # the token starting at or before char_start
        if first < 0 or offsets[first] + len(view.tokens[first]) <= char_start:
            first += 1  # it ends before char_start: start at the next one
        if first >= last:
            return 0, len(view.tokens)
        return first, last
