"""Intent patterns as written in packs, compiled: concepts (ways to say one thing) and parts (what must be said).

A pattern is a space-separated list of parts, all of which must occur, in any order, within `window` tokens:
  `ERASE PERSONAL_DATA`          two concepts from the pack's `concepts` (UPPERCASE names)
  `PERSONAL_DATA|ACCOUNT`        either concept
  `stop|end recording`           literal words (stemmed: "recording" also matches "recorded"); `|` = or
  `recorded_line`                `_` joins the words of one multi-word part
  `CONSENT?`                     `?`: optional (widens the evidence when present, never needed)
  `-WANT`                        `-`: must be negated ("I don't want …"); by default a part must NOT be negated
  `~RECORD`                      `~`: either polarity
  `!NOBODY`                      `!`: must not occur near the match (negated or not; `!+X` only affirmatively)
  `… @8`                         a trailing `@N` sets this pattern's window (tokens from first to last part)
A concept's terms are phrases ("personal information"); `=word` in a term or part matches that word form only:
no other inflection, no sound-alike ("=police" never matches "policy", "=registro" never "registrata").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rules.intents.language import stem
from rules.matching_text import normalize_tokens

DEFAULT_WINDOW = 12
"""Tokens from a pattern's first matched part to its last, unless the pattern says `@N`."""
AFFIRMATIVE, NEGATED, EITHER = "affirmative", "negated", "either"
_CONCEPT = re.compile(r"^[A-Z][A-Z0-9_]*$")
_WINDOW = re.compile(r"^@(\d{1,3})$")
_LITERAL = re.compile(r"^=?[^\s|=!~?@A-Z-][^\s|A-Z]*$")


class PatternError(ValueError):
    """A pattern or concept that cannot be compiled; the message says what is wrong and how to write it."""


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a term: its normalized form, the key it matches by (its stem; `=` + the word itself for an
    exact word) and whether sound-alikes of it are accepted."""

    text: str
    stem: str
    fuzzy: bool


@dataclass(frozen=True, slots=True)
class Term:
    """One way to say a part: consecutive words (fillers may sit between them)."""

    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a pattern: a concept or literal alternatives, with its polarity and role."""

    label: str
    terms: tuple[Term, ...]
    polarity: str
    optional: bool
    forbidden: bool

    @property
    def key(self) -> str:
        """What the part matches, independent of its role: parts with equal keys share their occurrences."""
        return self.label


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: its source text, parts and window."""

    source: str
    parts: tuple[Part, ...]
    window: int
    required: tuple[Part, ...]
    """The parts that must occur (neither `?` nor `!`), in written order."""

    @property
    def guarded(self) -> bool:
        """True when words after a match can still forbid it (the pattern has `!` parts)."""
        return any(p.forbidden for p in self.parts)


@dataclass(frozen=True, slots=True)
class Intent:
    """A named intent in one language: the patterns any of which expresses it."""

    name: str
    language: str
    patterns: tuple[Pattern, ...]


def compile_intent(
    name: str, sources: Sequence[str], concepts: Mapping[str, Sequence[str]], language: str
) -> Intent:
    """Compile the patterns of intent `name`; PatternError names the pattern and what is wrong with it."""
    terms: dict[str, tuple[Term, ...]] = {}
    patterns = tuple(_compile_pattern(source, concepts, language, terms) for source in sources)
    return Intent(name, language, patterns)


def _compile_pattern(
    source: str, concepts: Mapping[str, Sequence[str]], language: str, terms: dict[str, tuple[Term, ...]]
) -> Pattern:
    items = source.split()
    window = DEFAULT_WINDOW
    if items and _WINDOW.match(items[-1]):
        window = int(items.pop()[1:])
        if not 1 <= window <= 200:
            raise PatternError(f"pattern {source!r}: window @{window} must be between 1 and 200 tokens")
    parts = tuple(_compile_part(item, source, concepts, language, terms) for item in items)
    required = tuple(p for p in parts if not p.optional and not p.forbidden)
    if not required:
        raise PatternError(f"pattern {source!r}: needs at least one required part (not `?`, not `!`)")
    return Pattern(source, parts, window, required)


def _compile_part(
    item: str, source: str, concepts: Mapping[str, Sequence[str]], language: str, terms: dict[str, tuple[Term, ...]]
) -> Part:
    body = item
    forbidden = body.startswith("!")
    polarity = AFFIRMATIVE
    if body[:1] in "!-~" and body:
        polarity = {"-": NEGATED, "~": EITHER}.get(body[0], AFFIRMATIVE)
        body = body[1:]
    if forbidden:  # a veto word counts whether or not a negation reaches it ("don't call it a …"), unless
        polarity = EITHER  # written `!+PART` (affirmative only) or `!-PART` (negated only)
        if body[:1] in "+-":
            polarity = AFFIRMATIVE if body[0] == "+" else NEGATED
            body = body[1:]
    optional = body.endswith("?")
    body = body.rstrip("?")
    if not body:
        raise PatternError(f"pattern {source!r}: empty part {item!r}")
    if forbidden and optional:
        raise PatternError(f"pattern {source!r}: part {item!r} cannot be both forbidden `!` and optional `?`")
    alternatives = body.split("|")
    if all(_CONCEPT.match(a) for a in alternatives):  # CONCEPT or CONCEPT|OTHER: the terms of all of them
        found: list[Term] = []
        for name in alternatives:
            if name not in terms:
                if name not in concepts:
                    known = ", ".join(sorted(concepts)) or "none"
                    raise PatternError(f"pattern {source!r}: unknown concept {name!r} (known: {known})")
                terms[name] = _unique(_term(t, f"concept {name}", language) for t in concepts[name])
            found.extend(terms[name])
        return Part(body, _unique(found), polarity, optional, forbidden)
    for alternative in alternatives:
        if not _LITERAL.match(alternative):
            raise PatternError(
                f"pattern {source!r}: part {item!r} is neither an UPPERCASE concept nor lowercase words "
                "joined by | (alternatives) and _ (one multi-word part)"
            )
    label = body.lower()
    return Part(label, _unique(_term(a.replace("_", " "), f"part {item!r}", language) for a in alternatives),
                polarity, optional, forbidden)


def _unique(terms: Iterable[Term]) -> tuple[Term, ...]:
    """Terms without repeats: inflections written out ("record", "recorded") share one stem."""
    seen: dict[tuple[str, ...], Term] = {}
    for term in terms:
        seen.setdefault(tuple(w.stem for w in term.words), term)
    return tuple(seen.values())


def _term(text: str, where: str, language: str) -> Term:
    """A term's words: normalized like transcripts; `=` before a word turns its sound-alike tolerance off."""
    words: list[Word] = []
    for raw in text.split():
        exact = raw.startswith("=")
        for token in normalize_tokens(raw.lstrip("=")):
            key = f"={token}" if exact else stem(token, language)
            words.append(Word(token, key, not exact and len(token) >= 6))
    if not words:
        raise PatternError(f"{where}: term {text!r} has no words")
    return Term(tuple(words))


def check_concepts(concepts: object) -> str | None:
    """What is wrong with a concepts table (NAME → non-empty list of phrases), or None."""
    if not isinstance(concepts, Mapping):
        return "expected a mapping CONCEPT_NAME → list of phrases"
    for name, phrases in concepts.items():
        if not isinstance(name, str) or not _CONCEPT.match(name):
            return f"concept name {name!r} must be UPPERCASE letters, digits and _"
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            return f"concept {name}: expected a non-empty list of phrases"
    return None
