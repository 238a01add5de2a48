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

    __slots__ = (
        "_content_tokens", "_contexts", "_evidence", "_grown", "_runs", "has_numbers", "lang", "tokens", "words",
    )

    def __init__(self, words: tuple[str, ...], lang: str, grown: NumberAnalysis | None = None) -> None:
        """`grown`: an analysis of `words` without its last word (same language), whose results are reused."""
        self.words = words
        self.lang = lang
        if grown is None:
            self.tokens: tuple[Token, ...] = tuple(tokenize(words))
            self.has_numbers = may_hold_number(self.tokens, lang)
        else:  # tokens are per word: the earlier words' tokens, then the last word's (at its index)
            index = len(words) - 1
            added = tuple([Token(t.text, index, t.pause_after) for t in tokenize(words[index:])])
            self.tokens = grown.tokens + added
            self.has_numbers = grown.has_numbers or may_hold_number(added, lang)
        """has_numbers: False when no digit run can be parsed from the words, whatever the parse options."""
        self._grown = grown
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
            earlier = self._grown._runs.get(key) if self._grown is not None else None
            found = grown_runs(earlier, self.tokens, self.lang) if earlier is not None else None
            if found is None:
                found = tuple(parse_tokens(self.tokens, self.lang, max_fillers, continues))
            self._runs[key] = found
            self._grown = None  # drop the chain: keep memory per analysis bounded
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


def grown_runs(earlier: tuple[DigitRun, ...], tokens: Sequence[Token], lang: str) -> tuple[DigitRun, ...] | None:
    """The runs of `tokens` given `earlier`, the runs (same options) of `tokens` without its last token, when the
    last token is a digit word ("one") right after a digit word that ends the last run: that run grows by the
    digit; None otherwise (parse instead).

    Exact for the parser (rules/spoken_numbers.py): a digit word right after a digit word starts a new group of
    the open run (a unit never extends a unit's cardinal, and a digit word before a unit is read alone), and no
    earlier decision looked past the earlier last token (a digit word stops every look-ahead)."""
    if len(tokens) < 2 or not earlier:
        return None
    digits = _plain_digits(lang)
    new, before = tokens[-1], tokens[-2]
    run = earlier[-1]
    if new.text not in digits or before.text not in digits or new.word != before.word + 1:
        return None
    if not run.open_end or run.last_word != before.word or before.word not in run.number_words:
        return None
    grown = DigitRun(
        digits=run.digits + digits[new.text],
        first_word=run.first_word,
        last_word=new.word,
        number_words=(*run.number_words, new.word),
        chunk_starts=(*run.chunk_starts, len(run.digits)),
        segment_starts=run.segment_starts,
        open_start=run.open_start,
        open_end=True,
        weak=False,
    )
    return (*earlier[:-1], grown)


@lru_cache(maxsize=8)
def _plain_digits(lang: str) -> dict[str, str]:
    """Digit words read as one digit wherever they stand (not ordinals): word → the digit the parser gives."""
    lex = lexicon_for(lang)
    return {
        word: "0" if word == "zero" else str(int(digit))
        for word, digit in lex.digits.items()
        if word not in lex.ordinals
    }


@lru_cache(maxsize=1024)
def _shared_analysis(words: tuple[str, ...], lang: str) -> NumberAnalysis:
    """Analyses of recent word sequences: scripted agent lines and their partials recur across calls."""
    latest = _latest.get(lang)
    grown = latest if latest is not None and latest.words == words[:-1] else None
    return NumberAnalysis(words, lang, grown)


_latest: dict[str, NumberAnalysis] = {}
"""Per language, the analysis asked for last: a recognizer's next partial usually adds one word to it."""


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
        found = by_lang[lang] = _latest[lang] = _shared_analysis(tuple(utterance_words(utterance)), lang)
    return found
