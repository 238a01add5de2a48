"""Spoken-number normalization: ASR word sequences (and literal digits) → digit runs with their source word spans.

A *run* is a maximal stretch of number words and literal digits, possibly with a few filler words inside
("four one uh one one", "let me see"); its `digits` are the digits in spoken order, so "forty five thirty two"
gives "4532" and "double oh seven" gives "007". Each run records which words it came from, whether it touches
the start/end of the text (so the caller can join it with runs of neighbouring utterances), where its
filler-separated segments start, and whether it is *weak* (a lone digit word such as "one" in "one of them").

Policy for traps:
- "oh"/"o" are zero only next to another number word ("o eight" → 08; "oh I see", "o s c a r" → nothing),
  or at the start of a text that continues an open run (`continues=True`).
- "for"/"to"/"too"/"won"/"ate" are digits only when directly between two number words of one run
  ("four one for one" → 4141); "waiting for", "to pay" never become digits.
- "a"/"an" mean one only right before "hundred"/"thousand" ("a hundred dollars" → 100, a 3-digit run).
- Ordinals end a number ("twenty first" → 21, "fifth" → 5, "two thousandth" → 2000), but "first"/"second"
  count only after a tens/hundred word: a bare "first" or "second" is never a digit ("second" is a filler in
  "hold on a second" and must not add a digit to a card number).
- Decimals ("point five") and fractions ("a half") are not converted: the digits around "point" form runs.
- A lone digit word is a weak run; callers decide whether it counts (redaction ignores weak runs unless they
  continue a run of a previous utterance or answer a security-code prompt).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rules.spoken_numbers_lexicon import Lexicon, lexicon_for
from rules.spoken_tokens import Token, split_words, tokenize

__all__ = [
    "DEFAULT_MAX_FILLERS", "DigitRun", "Token", "digits_of", "may_hold_number", "parse_text", "parse_tokens",
    "parse_words", "split_words", "tokenize",
]

DEFAULT_MAX_FILLERS = 6
"""How many consecutive filler words may sit inside one run ("uh sorry let me see" is five)."""

_MAY_PRECEDE: dict[str, tuple[str, ...]] = {
    "unit": ("", "tens", "hundred", "scale"),
    "teen": ("", "hundred", "scale"),
    "tens": ("", "hundred", "scale"),
}
"""For a cardinal atom kind: the kinds it may directly follow ("forty" then "five", never "five" then "forty")."""


@dataclass(frozen=True, slots=True)
class DigitRun:
    """A run of spoken/written digits and where it came from.

    `chunk_starts` / `segment_starts` are offsets into `digits` where a spoken group ("forty five") or a
    filler-separated segment begins. `first_word`..`last_word` (inclusive) span the words of the run,
    fillers inside it included; `number_words` are the words that contributed digits.
    `open_start`: only fillers precede the run in its text; `open_end`: only fillers follow it.
    """

    digits: str
    first_word: int
    last_word: int
    number_words: tuple[int, ...]
    chunk_starts: tuple[int, ...]
    segment_starts: tuple[int, ...]
    open_start: bool
    open_end: bool
    weak: bool

    @property
    def words(self) -> range:
        """Indices of every word the run spans (number words and the fillers between them)."""
        return range(self.first_word, self.last_word + 1)


@lru_cache(maxsize=8)
def _starter_words(lang: str) -> tuple[frozenset[str], frozenset[str]]:
    """(words that may begin a number group, words that may begin a run) of a language, besides literal digits
    and the lexicon's compound words (`word_value`).

    A homophone ("for") only continues a run, an article ("a") needs a following hundred/scale word, so neither
    can begin a run by itself.
    """
    lex = lexicon_for(lang)
    run_starters = frozenset(
        {*lex.digits, *lex.soft_zeros, *lex.teens, *lex.tens, *lex.hundreds, *lex.scales, *lex.repeats, *lex.ordinals}
    )
    return run_starters | frozenset(lex.homophones) | lex.articles, run_starters


@lru_cache(maxsize=16384)
def _is_compound_number(lang: str, text: str) -> bool:
    """True when the lexicon values `text` as one number word ("quarantacinque")."""
    value_of = lexicon_for(lang).word_value
    return value_of is not None and value_of(text) is not None


_lexicon = lru_cache(maxsize=64)(lexicon_for)
"""`lexicon_for`, memoized per language tag (lexicons are module constants)."""


def may_hold_number(tokens: Sequence[Token], lang: str = "en") -> bool:
    """False when no digit run can be parsed from `tokens` (a cheap test: no token can begin a number)."""
    lex = _lexicon(lang)
    texts = [t.text for t in tokens]
    if not _starter_words(lex.lang)[1].isdisjoint(texts) or any(map(str.isdigit, texts)):
        return True
    return lex.word_value is not None and any(_is_compound_number(lex.lang, text) for text in texts)


class _Building:
    """A digit run being parsed (mutable; becomes a DigitRun). A plain class: its `__init__` compiles natively
    (mypyc leaves dataclass-generated methods interpreted, and the parser makes one per run)."""

    __slots__ = ("chunk_starts", "digits", "first_word", "last_word", "length", "number_words", "open_start",
                 "segment_starts", "weak_candidate")

    def __init__(self, first_word: int, last_word: int, open_start: bool) -> None:
        self.digits: list[str] = []
        self.first_word = first_word
        self.last_word = last_word
        self.number_words: list[int] = []
        self.chunk_starts: list[int] = []
        self.segment_starts: list[int] = [0]
        self.open_start = open_start
        self.weak_candidate = True
        self.length = 0
        """len("".join(digits))"""


class _Parser:
    """One pass over a token list; see `parse_tokens`."""

    def __init__(self, tokens: Sequence[Token], lex: Lexicon, max_fillers: int, continues: bool = False) -> None:
        self.toks = tokens
        self.lex = lex
        self.max_fillers = max_fillers
        self.continues = continues
        self.chunk_starters = _starter_words(lex.lang)[0]

    # --- atoms -------------------------------------------------------------------------------------------
    def _word_value(self, text: str) -> int | None:
        if self.lex.word_value is None or text in self.lex.digits:
            return None
        return self.lex.word_value(text)

    def _is_scale_or_hundred(self, j: int) -> bool:
        if j >= len(self.toks):
            return False
        text = self.toks[j].text
        return text in self.lex.hundreds or text in self.lex.scales

    def _plain_start(self, j: int) -> bool:
        """True when token j begins a number by itself (not counting soft zeros and homophones)."""
        if j >= len(self.toks):
            return False
        text = self.toks[j].text
        lex = self.lex
        if text.isdigit() or text in lex.digits or text in lex.teens or text in lex.tens:
            return True
        if text in lex.hundreds or text in lex.scales or self._word_value(text) is not None:
            return True
        if text in lex.ordinals and text not in lex.guarded_ordinals:
            return True
        if text in lex.repeats:
            return self._plain_start(j + 1) or (j + 1 < len(self.toks) and self.toks[j + 1].text in lex.soft_zeros)
        return text in lex.articles and self._is_scale_or_hundred(j + 1)

    def _starts_number(self, j: int) -> bool:
        """True when a number starts at token j: a plain number word, or soft zeros ("oh oh") followed by one."""
        while j < len(self.toks) and self.toks[j].text in self.lex.soft_zeros:
            j += 1
        return self._plain_start(j)

    def _next_non_filler(self, j: int) -> int:
        skipped = 0
        while j < len(self.toks) and self.toks[j].text in self.lex.fillers and skipped < self.max_fillers:
            j += 1
            skipped += 1
        return j

    def _may_begin_chunk(self, text: str) -> bool:
        """False when `read_chunk` surely finds no number group at a token with this text."""
        return text in self.chunk_starters or text.isdigit() or _is_compound_number(self.lex.lang, text)

    def _any_word(self, first: int, last: int) -> bool:
        """True when a token in first..last-1 is not a tolerated filler (outside a run, no filler is
        tolerated with max_fillers 0)."""
        fillers = self.lex.fillers
        return self.max_fillers == 0 or any(t.text not in fillers for t in self.toks[first:last])

    # --- chunks ------------------------------------------------------------------------------------------
    def read_chunk(self, i: int, in_run: bool, adjacent: bool) -> tuple[str, int] | None:
        """The digits of the number group starting at token i and the index after it, or None."""
        text = self.toks[i].text
        lex = self.lex
        if text.isdigit():
            scaled = self._read_cardinal(i) if self._is_scale_or_hundred(i + 1) else None
            return scaled or (text, i + 1)
        if text in lex.repeats:
            nxt = i + 1
            if nxt < len(self.toks):
                nxt_text = self.toks[nxt].text
                digit = lex.digits.get(nxt_text) or ("0" if nxt_text in lex.soft_zeros else None)
                if digit is not None:
                    return digit * lex.repeats[text], nxt + 1
            return None
        if text in lex.soft_zeros:
            if in_run or self._starts_number(self._next_non_filler(i + 1)):
                return "0", i + 1
            return None
        if text in lex.homophones:
            if in_run and adjacent and self._plain_start(i + 1):
                return lex.homophones[text], i + 1
            return None
        if text == "zero" and text in lex.digits:
            return "0", i + 1
        value = self._word_value(text)
        if value is not None:
            return str(value), i + 1
        if text in lex.digits and text not in lex.ordinals and (self.toks[i].pause_after or self._lone_unit(i + 1)):
            return str(int(lex.digits[text])), i + 1  # what _read_cardinal gives for a lone digit word
        return self._read_cardinal(i)

    def _lone_unit(self, j: int) -> bool:
        """True when a digit word right before token j ends its cardinal (only a hundred/scale word extends it)."""
        atom = self._atom(j) if j < len(self.toks) else None
        return atom is None or atom[0] not in ("hundred", "scale")

    def _atom(self, j: int) -> tuple[str, int] | None:
        """(kind, value) of token j inside a cardinal: unit, teen, tens, hundred, scale or literal."""
        text = self.toks[j].text
        lex = self.lex
        if text in lex.ordinals:
            return lex.ordinals[text]
        if text in lex.digits and text != "zero":
            return "unit", int(lex.digits[text])
        if text in lex.articles and self._is_scale_or_hundred(j + 1):
            return "unit", 1
        if text in lex.teens:
            return "teen", lex.teens[text]
        if text in lex.tens:
            return "tens", lex.tens[text]
        if text in lex.hundreds:
            return "hundred", 100
        if text in lex.scales:
            return "scale", lex.scales[text]
        if text.isdigit() and len(text) <= 3 and not text.startswith("0"):
            return "literal", int(text)
        return None

    def _read_cardinal(self, i: int) -> tuple[str, int] | None:
        """A cardinal such as "forty five", "nineteen hundred seventy three", "two thousand four hundred"."""
        total, current, last, last_scale, j = 0, 0, "", 10**18, i
        while j < len(self.toks):
            text = self.toks[j].text
            if text in self.lex.conjunctions and last in ("hundred", "scale") and j + 1 < len(self.toks):
                nxt = self._atom(j + 1)
                if nxt is not None and nxt[0] in ("unit", "teen", "tens", "hundred"):
                    j += 1
                    continue
            atom = self._atom(j)
            if atom is None:
                break
            kind, value = atom
            if self.toks[j].text in self.lex.ordinals and not self._ordinal_fits(self.toks[j].text, last):
                break
            if kind == "literal" and last == "" and self._is_scale_or_hundred(j + 1):
                current = value
            elif last in _MAY_PRECEDE.get(kind, ()):
                current += value
            elif kind == "hundred" and last in ("", "unit", "teen", "tens", "literal") and current < 100:
                current = (current or 1) * 100
            elif kind == "scale" and value < last_scale and (current > 0 or last == ""):
                total += (current or 1) * value
                current, last_scale = 0, value
            else:
                break
            last = kind
            j += 1
            if self.toks[j - 1].text in self.lex.ordinals or self.toks[j - 1].pause_after:
                break
        if j == i:
            return None
        return str(total + current), j

    def _ordinal_fits(self, text: str, last: str) -> bool:
        """Ordinals end a cardinal; "first"/"second" count only after tens/hundred ("twenty first", "hundred first")."""
        return text not in self.lex.guarded_ordinals or last in ("tens", "hundred", "scale")

    # --- runs --------------------------------------------------------------------------------------------
    def parse(self) -> list[DigitRun]:
        """All runs of the token list, in order."""
        runs: list[DigitRun] = []
        cur: _Building | None = None
        fillers = 0
        seen_other = False
        starters = self.chunk_starters
        candidates = [k for k, t in enumerate(self.toks) if t.text in starters or t.text.isdigit()]
        if self.lex.word_value is not None:
            candidates = [k for k, t in enumerate(self.toks) if self._may_begin_chunk(t.text)]
        if not candidates:
            return runs
        i = 0
        while i < len(self.toks):
            if cur is None:  # outside a run, tokens before the next candidate only tell whether words came first
                nxt_candidate = candidates[bisect_left(candidates, i)] if i <= candidates[-1] else len(self.toks)
                if nxt_candidate > i:
                    seen_other = seen_other or self._any_word(i, nxt_candidate)
                    i = nxt_candidate
                    continue
            in_run = cur is not None or (self.continues and not seen_other)
            chunk = (
                self.read_chunk(i, in_run=in_run, adjacent=fillers == 0 and cur is not None)
                if self._may_begin_chunk(self.toks[i].text)
                else None
            )
            if chunk is not None:
                digits, nxt = chunk
                words = [self.toks[i].word] if nxt == i + 1 else sorted({t.word for t in self.toks[i:nxt]})
                if cur is None:
                    cur = _Building(words[0], words[-1], not seen_other)
                elif fillers:
                    cur.segment_starts.append(cur.length)
                single_digit_word = nxt == i + 1 and len(digits) == 1 and not self.toks[i].is_literal
                cur.weak_candidate = cur.weak_candidate and not cur.digits and single_digit_word
                cur.chunk_starts.append(cur.length)
                cur.digits.append(digits)
                cur.length += len(digits)
                cur.last_word = words[-1]
                cur.number_words.extend(w for w in words if w not in cur.number_words)
                fillers = 0
                i = nxt
                continue
            if self.toks[i].text in self.lex.fillers and fillers < self.max_fillers:
                fillers += 1 if cur is not None else 0
                i += 1
                continue
            if cur is not None:
                runs.append(self._finish(cur, open_end=False))
                cur = None
            fillers = 0
            seen_other = True
            i += 1
        if cur is not None:
            runs.append(self._finish(cur, open_end=True))
        return runs

    @staticmethod
    def _finish(cur: _Building, open_end: bool) -> DigitRun:
        return DigitRun(
            digits="".join(cur.digits),
            first_word=cur.first_word,
            last_word=cur.last_word,
            number_words=tuple(cur.number_words),
            chunk_starts=tuple(cur.chunk_starts),
            segment_starts=tuple(cur.segment_starts),
            open_start=cur.open_start,
            open_end=open_end,
            weak=cur.weak_candidate,
        )


def parse_tokens(
    tokens: Sequence[Token], lang: str = "en", max_fillers: int = DEFAULT_MAX_FILLERS, continues: bool = False
) -> list[DigitRun]:
    """The digit runs of a token list (see the module docstring for the policy).

    `continues`: the text may continue a run of a previous utterance, so a leading "oh" is a zero there.
    """
    if not may_hold_number(tokens, lang):
        return []
    return _Parser(tokens, _lexicon(lang), max_fillers, continues).parse()


def parse_words(words: Sequence[str], lang: str = "en", max_fillers: int = DEFAULT_MAX_FILLERS) -> list[DigitRun]:
    """The digit runs of a word sequence (ASR words); word indices refer to `words`."""
    return parse_tokens(tokenize(words), lang, max_fillers)


def parse_text(text: str, lang: str = "en", max_fillers: int = DEFAULT_MAX_FILLERS) -> list[DigitRun]:
    """The digit runs of a text; word indices refer to `split_words(text)`."""
    return parse_words(split_words(text), lang, max_fillers)


def digits_of(text: str, lang: str = "en", include_weak: bool = False) -> list[str]:
    """Just the digit strings of the runs in `text` ("four one one one and a hundred" → ["4111", "100"])."""
    return [run.digits for run in parse_text(text, lang) if include_weak or not run.weak]
