"""Token-aware fuzzy phrase matching (rapidfuzz): text normalization and best phrase match with its word span."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from rules.events import Utterance
from rules.matching_text import normalize, normalize_tokens
from rules.matching_views import (
    TextView,
    content_stems,
    text_view,
    utterance_layout,
    utterance_stems,
    utterance_view,
)

__all__ = [
    "PhraseMatch", "PhraseMatcher", "TextView", "normalize", "normalize_tokens", "phrase_matcher", "text_view",
    "utterance_layout", "utterance_stems", "utterance_view",
]

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
    intent: str = ""
    """The intent whose pattern matched ("" for a phrase list)."""
    parts: tuple[tuple[str, str], ...] = ()
    """For an intent: each required part of the pattern and the words that matched it."""


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
            stems = content_stems(tokens)
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
        """True when `cannot_match(utterance_layout(utterance))` holds, told from the words' stems alone (False:
        unsure), without building the layout."""
        if not self._phrases:
            return True
        if self._always:
            return False
        stems = utterance_stems(utterance)
        return stems is not None and self._stems.isdisjoint(stems)

    def best_in(self, utterance: Utterance, floor: float = 0.0, near_misses: bool = False) -> PhraseMatch | None:
        """`best(utterance_view(utterance), floor)`; the timed view is built only when a phrase matched.
        (`near_misses` is for intent matchers: a phrase's similarity already says how near it came.)"""
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
        """The best phrase in index order (a later one must score higher), each aligned at the floor so far.

        A phrase is skipped unaligned when an upper bound of its similarity to every substring of the text is
        below that floor: ratio(p, s) = 2·LCS(p, s) / (|p| + |s|) with LCS(p, s) ≤ min(L, |s|), L = LCS(p, text),
        is largest at |s| = L, so no span exceeds 2L / (|p| + L); with it `_match_one` would return None."""
        best: _Found | None = None
        phrases, text, common_length = self._phrases, view.text, LCSseq.similarity
        for i in self._candidates(view):
            phrase = phrases[i]
            needed = max(floor, best[1] if best is not None else 0.0)
            if needed > 0.0:  # the bound 2L / (|phrase| + L) is below `needed`
                common = common_length(phrase.text, text)
                if 2.0 * common < (needed - 1e-9) * (len(phrase.text) + common):
                    continue
            found = self._match_one(phrase, view, needed)
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
