"""Normalized views of utterances for phrase matching: tokens with audio times, built incrementally for partials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rules.events import Utterance
from rules.matching_stopwords import STOPWORDS
from rules.matching_text import normalize_tokens


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


def content_stems(tokens: Sequence[str]) -> frozenset[str]:
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
        stems=content_stems(tokens),
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


_UNKNOWN: frozenset[str] = frozenset({"\x00unknown"})
"""A sentinel for words not classified yet."""
_WORD_STEMS: dict[str, frozenset[str] | None] = {}
"""Per word: the content stems of its normalized tokens, None when it normalizes to no token (bounded)."""
_WORD_STEMS_MAX = 65536
_last_stems: list[tuple[Utterance, frozenset[str] | None]] = []
_growing_stems: dict[int, tuple[str, frozenset[str]]] = {}
"""Per channel, the last text whose stems were told and those stems (a partial usually extends the last one)."""


def utterance_stems(utterance: Utterance) -> frozenset[str] | None:
    """`utterance_layout(utterance).stems` told from the words alone (a view's tokens are its words' tokens put
    together); None when that is unsure: `words` that normalize to no token (the view then comes from the text).

    Memoized for the last utterance by identity, because the engine hands the same event to every rule."""
    if _last_stems and _last_stems[0][0] is utterance:
        return _last_stems[0][1]
    result: frozenset[str] | None
    if utterance.words:
        parts = _word_stems([w.text for w in utterance.words])
        result = frozenset().union(*parts) if parts else None
    else:
        result = _text_stems(utterance.text, utterance.channel)
    _last_stems[:] = [(utterance, result)]
    return result


def _text_stems(text: str, channel: int) -> frozenset[str]:
    """The stems of a text's words, from the channel's previous text when `text` extends it at a word boundary."""
    last = _growing_stems.get(channel)
    base: frozenset[str] = frozenset()
    rest = text
    if last is not None and text.startswith(last[0]):
        known = last[0]
        if not known or known[-1].isspace() or len(text) == len(known) or text[len(known)].isspace():
            base, rest = last[1], text[len(known) :]
    result = base.union(*_word_stems(rest.split()))
    if len(_growing_stems) >= 64 and channel not in _growing_stems:
        _growing_stems.clear()
    _growing_stems[channel] = (text, result)
    return result


def _word_stems(words: list[str]) -> list[frozenset[str]]:
    """The stems of each word that normalizes to at least one token (memoized per word)."""
    parts: list[frozenset[str]] = []
    for text in words:
        found = _WORD_STEMS.get(text, _UNKNOWN)
        if found is _UNKNOWN:
            if len(_WORD_STEMS) >= _WORD_STEMS_MAX:
                _WORD_STEMS.clear()
            tokens = normalize_tokens(text)
            found = _WORD_STEMS[text] = content_stems(tokens) if tokens else None
        if found is not None:
            parts.append(found)
    return parts
