"""Text normalization for phrase matching: lowercase, accent-free, punctuation-free tokens, contractions expanded."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_NON_WORD = re.compile(r"[^a-z0-9']+")
_WHOLE_CONTRACTIONS: dict[str, str] = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "y'all": "you all",
    "ok": "okay",
}
_SUFFIX_CONTRACTIONS: tuple[tuple[str, str], ...] = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'d", " would"),
    ("'m", " am"),
)
_IS_PRONOUNS = frozenset(
    {"it", "that", "what", "there", "here", "he", "she", "who", "where", "how", "this", "call", "everything"}
)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _expand(word: str) -> str:
    """One lowercase word with English contractions expanded and other apostrophes split (Italian elision)."""
    if "'" not in word:
        return _WHOLE_CONTRACTIONS.get(word, word)
    if word in _WHOLE_CONTRACTIONS:
        return _WHOLE_CONTRACTIONS[word]
    for suffix, replacement in _SUFFIX_CONTRACTIONS:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)] + replacement
    if word.endswith("'s") and len(word) > 2:
        stem = word[:-2]
        return f"{stem} is" if stem in _IS_PRONOUNS else stem
    return word.replace("'", " ")


@lru_cache(maxsize=8192)
def normalize_tokens(text: str) -> tuple[str, ...]:
    """Lowercase, accent-free, punctuation-free tokens with contractions expanded ("don't" → "do not")."""
    lowered = text.translate(_APOSTROPHES).lower()
    if not lowered.isascii():
        lowered = _strip_accents(lowered)
    out: list[str] = []
    for raw in _NON_WORD.split(lowered):
        word = raw.strip("'")
        if word:
            out.extend(_expand(word).split())
    return tuple(out)


def normalize(text: str) -> str:
    """The normalized form of `text` as one space-joined string."""
    return " ".join(normalize_tokens(text))
