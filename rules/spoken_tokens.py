"""Spoken-number tokens: ASR words split into lowercased letter tokens and literal digit groups."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_PAUSE_MARKS = frozenset(",.;:!?")
"""Punctuation ending a written word: a cardinal does not continue past it ("twenty, five" is 20 then 5)."""
_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)*")


@dataclass(frozen=True, slots=True)
class Token:
    """One sub-word token: lowercased letters or a group of literal digits, and the word it came from."""

    text: str
    word: int
    pause_after: bool = False

    @property
    def is_literal(self) -> bool:
        """True for a group of written digits ("4111")."""
        return self.text.isdigit()


@lru_cache(maxsize=16384)
def _word_tokens(word: str, index: int) -> tuple[Token, ...]:
    """The tokens of the `index`-th word (memoized: the same words recur in every partial and every rule)."""
    cleaned = word.lower().replace("’", "'")
    parts = _TOKEN_RE.findall(cleaned)
    pause = cleaned.rstrip()[-1:] in _PAUSE_MARKS
    return tuple(Token(part, index, pause and n == len(parts) - 1) for n, part in enumerate(parts))


def tokenize(words: Sequence[str]) -> list[Token]:
    """Split words into tokens: "Twenty-five" → twenty, five; "4012-8888" → 4012, 8888; "$20" → 20."""
    tokens: list[Token] = []
    for index, word in enumerate(words):
        tokens.extend(_word_tokens(word, index))
    return tokens


def split_words(text: str) -> list[str]:
    """The whitespace-separated words of `text` (the unit word indices refer to)."""
    return text.split()
