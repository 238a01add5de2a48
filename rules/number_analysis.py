"""Per-utterance number analysis shared by the sensitive_number rules of a call: tokens, digit runs, context
phrase ends and redacted evidence of one utterance in one language, each computed at most once (the engine hands
the same Utterance to every rule, and a pack has several sensitive_number rules)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rules.events import Utterance
from rules.redact import redact_parsed
from rules.spoken_numbers import (
    DEFAULT_MAX_FILLERS,
    DigitRun,
    Token,
    may_hold_number,
    parse_tokens,
    split_words,
    tokenize,
)
from rules.spoken_numbers_lexicon import lexicon_for

INERT, PHRASE_START, NUMBER = 0, 1, 2
"""Word kinds (see `ContextMatcher.word_kinds`), ordered so that an utterance's kind is the max of its words'."""
_WORD_KINDS_MAX = 65536
"""Words remembered per (matcher, language) before the table is cleared (bounds memory on open vocabularies)."""


class ContextMatcher:
    """Several phrase lists (one per context kind) compiled for a single token-exact scan of an utterance.

    Get instances from `context_matcher`, which returns one shared instance per distinct phrase lists.
    """

    __slots__ = ("_by_first", "_word_kinds", "kinds")

    def __init__(self, phrase_lists: tuple[tuple[str, ...], ...]) -> None:
        self.kinds = len(phrase_lists)
        by_first: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for kind, phrases in enumerate(phrase_lists):
            for phrase in phrases:
                parts = tuple(phrase.lower().split())
                if parts:
                    by_first.setdefault(parts[0], []).append((kind, parts))
        self._by_first = {first: tuple(entries) for first, entries in by_first.items()}
        self._word_kinds: dict[str, dict[str, int]] = {}

    def word_kinds(self, words: Sequence[str], lang: str) -> int:
        """The highest kind of the words: NUMBER when a token may begin a number (`may_hold_number`), else
        PHRASE_START when a token begins one of the phrases, else INERT (no number, no phrase ends there).

        Exact per word (both tests look at single tokens), memoized per word and language."""
        known = self._word_kinds.get(lang)
        if known is None:
            known = self._word_kinds[lang] = {}
        top = INERT
        for word in words:
            kind = known.get(word)
            if kind is None:
                if len(known) >= _WORD_KINDS_MAX:
                    known.clear()
                kind = known[word] = self._word_kind(word, lang)
            if kind > top:
                top = kind
                if top == NUMBER:
                    break
        return top

    def _word_kind(self, word: str, lang: str) -> int:
        tokens = tokenize((word,))
        if may_hold_number(tokens, lang):
            return NUMBER
        return PHRASE_START if any(t.text in self._by_first for t in tokens) else INERT

    def ends(self, tokens: Sequence[Token]) -> tuple[tuple[int, ...], ...]:
        """Per phrase list, the sorted word indices where one of its phrases ends (as rules.cards.phrase_ends)."""
        texts = tuple(t.text for t in tokens)
        found: list[set[int]] | None = None
        for i, text in enumerate(texts):
            for kind, parts in self._by_first.get(text, ()):
                if texts[i : i + len(parts)] == parts:
                    found = found or [set() for _ in range(self.kinds)]
                    found[kind].add(tokens[i + len(parts) - 1].word)
        if found is None:
            return ((),) * self.kinds
        return tuple(tuple(sorted(ends)) for ends in found)


@lru_cache(maxsize=64)
def context_matcher(phrase_lists: tuple[tuple[str, ...], ...]) -> ContextMatcher:
    """The shared matcher of these phrase lists (rules with equal lists share it, and so share memoized scans)."""
    return ContextMatcher(phrase_lists)


class NumberAnalysis:
    """The words of one utterance and, lazily, what the number rules derive from them in language `lang`.

    Every result is a pure function of (words, lang, arguments); results are memoized on this object only.
    """

    __slots__ = ("_content_tokens", "_contexts", "_evidence", "_runs", "has_numbers", "lang", "tokens", "words")

    def __init__(self, words: tuple[str, ...], lang: str) -> None:
        self.words = words
        self.lang = lang
        self.tokens: tuple[Token, ...] = tuple(tokenize(words))
        self.has_numbers = may_hold_number(self.tokens, lang)
        """False when no digit run can be parsed from the words, whatever the parse options."""
        self._runs: dict[tuple[int, bool], tuple[DigitRun, ...]] = {}
        self._contexts: dict[ContextMatcher, tuple[tuple[int, ...], ...]] = {}
        self._evidence: str | None = None
        self._content_tokens: int | None = None

    def runs(self, max_fillers: int, continues: bool) -> tuple[DigitRun, ...]:
        """`parse_tokens(tokens, lang, max_fillers, continues)`."""
        if not self.has_numbers:
            return ()
        key = (max_fillers, continues)
        found = self._runs.get(key)
        if found is None:
            found = self._runs[key] = tuple(parse_tokens(self.tokens, self.lang, max_fillers, continues))
        return found

    def context_ends(self, matcher: ContextMatcher) -> tuple[tuple[int, ...], ...]:
        """`matcher.ends(tokens)`: per phrase list, the word indices where one of its phrases ends."""
        found = self._contexts.get(matcher)
        if found is None:
            found = self._contexts[matcher] = matcher.ends(self.tokens)
        return found

    def quiet(self, matcher: ContextMatcher) -> bool:
        """True when the words hold no possible number and none of `matcher`'s phrases."""
        return not self.has_numbers and not any(self.context_ends(matcher))

    def evidence(self) -> str:
        """The words with every digit run masked (`redact_words(words, lang, mask_all_numbers=True).text`)."""
        if self._evidence is None:
            runs = self.runs(DEFAULT_MAX_FILLERS, False)  # as redact_words parses
            self._evidence = (
                redact_parsed(self.words, self.tokens, runs, self.lang, mask_all_numbers=True).text
                if runs
                else " ".join(self.words)
            )
        return self._evidence

    def content_tokens(self) -> int:
        """How many tokens are not fillers of the language (words that carry a sentence, or numbers)."""
        if self._content_tokens is None:
            fillers = lexicon_for(self.lang).fillers
            self._content_tokens = sum(t.text not in fillers for t in self.tokens)
        return self._content_tokens


@lru_cache(maxsize=1024)
def _shared_analysis(words: tuple[str, ...], lang: str) -> NumberAnalysis:
    """Analyses of recent word sequences: scripted agent lines and their partials recur across calls."""
    return NumberAnalysis(words, lang)


_last: list[tuple[Utterance, dict[str, NumberAnalysis]]] = []
"""The analyses of the most recent Utterance object (one entry), so rules after the first skip even the lookup."""


def utterance_words(utterance: Utterance) -> list[str]:
    """The words number analysis reads: the utterance's `words` when present, else its whitespace-split text."""
    return [w.text for w in utterance.words] if utterance.words else split_words(utterance.text)


def number_analysis(utterance: Utterance, lang: str) -> NumberAnalysis:
    """The analysis of an utterance's words (its `words` when present, else its whitespace-split text).

    Memoized by (words, lang) in a bounded LRU, and for the most recent Utterance object by identity (the memo
    holds that object, so its id cannot be reused meanwhile). Results depend only on (words, lang).
    """
    if _last and _last[0][0] is utterance:
        by_lang = _last[0][1]
    else:
        by_lang = {}
        _last[:] = [(utterance, by_lang)]
    found = by_lang.get(lang)
    if found is None:
        found = by_lang[lang] = _shared_analysis(tuple(utterance_words(utterance)), lang)
    return found
