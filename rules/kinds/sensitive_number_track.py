"""Digit-run tracking of the sensitive_number kind: which runs each utterance closes, continues or leaves open.

Tracking depends only on the utterance, the runs left open per speaker (`Carries`) and a few settings
(`Tracking`), never on what a rule detects, so rules with equal settings share one computed `Step` per
utterance (memoized for the most recent Utterance object only; see `utterance_step`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rules.cards import MONTHS
from rules.events import Speaker, Utterance
from rules.number_analysis import INERT, NUMBER, ContextMatcher, NumberAnalysis, number_analysis
from rules.spoken_numbers import DigitRun

LEADING_HOMOPHONES = {"en": {"for": "4", "fore": "4", "to": "2", "too": "2"}}
"""Words real ASR writes for a digit at the start of a digit run ("it is for one one one one …"); the rule counts
the digit only when the run alone is no card number but the digit plus the run is one."""
CONTEXT_KINDS = ("payment", "cvv", "expiry", "ssn")
"""The order of the phrase lists in a Tracking's matcher (and of `Step.context_ends`)."""


class Piece:
    """A digit run located in time, possibly joined from several utterances of one speaker.

    `sources` are the analyses of those utterances; the redacted evidence is built from them only when a
    finding is emitted. `context`: the prompt kinds (and "payment") said before the run in its utterances.
    `lead`: the digit of a homophone ("for" → "4") right before the run's first word, else "".
    Pieces, checks and steps are plain classes with read-only (Final) attributes rather than frozen dataclasses:
    several are made per utterance, and mypyc compiles their `__init__` natively (not a dataclass-generated one).
    """

    __slots__ = ("channel", "context", "digits", "end", "index", "lead", "month_before", "segments", "sources",
                 "start", "utterances")

    def __init__(self, digits: str, segments: tuple[int, ...], start: float, end: float,
                 sources: tuple[NumberAnalysis, ...], utterances: int, index: int, month_before: bool, channel: int,
                 context: frozenset[str], lead: str = "") -> None:
        self.digits: Final = digits
        self.segments: Final = segments
        self.start: Final = start
        self.end: Final = end
        self.sources: Final = sources
        self.utterances: Final = utterances
        self.index: Final = index
        self.month_before: Final = month_before
        self.channel: Final = channel
        self.context: Final = context
        self.lead: Final = lead

    @property
    def evidence(self) -> str:
        """The redacted words of the piece's utterances, joined by " … "."""
        return " … ".join(source.evidence() for source in self.sources)


class Check:
    """A piece to evaluate: `closed` (it cannot grow) or still open. `utterance` is None for a run closed
    from an earlier utterance of `speaker` (the rule judges it as a final utterance of its own)."""

    __slots__ = ("closed", "piece", "speaker", "utterance")

    def __init__(self, piece: Piece, utterance: Utterance | None, closed: bool, speaker: Speaker) -> None:
        self.piece: Final = piece
        self.utterance: Final = utterance
        self.closed: Final = closed
        self.speaker: Final = speaker


Carries = Mapping[Speaker, Piece]
"""The run each speaker left open at the end of their last final utterance."""


class Step:
    """What one utterance does: close stale runs, then (after the rule notes `context_ends`) the `checks`."""

    __slots__ = ("carries", "checks", "context_ends", "stale")

    def __init__(self, stale: tuple[Check, ...], context_ends: tuple[tuple[int, ...], ...], checks: tuple[Check, ...],
                 carries: Carries) -> None:
        self.stale: Final = stale
        self.context_ends: Final = context_ends
        self.checks: Final = checks
        self.carries: Final = carries


@dataclass(frozen=True, slots=True, eq=False)
class Tracking:
    """Settings tracking depends on. Get instances from `tracking` (equal settings → the same object)."""

    lang: str
    max_fillers: int
    gap_seconds: float
    matcher: ContextMatcher


@lru_cache(maxsize=64)
def tracking(lang: str, max_fillers: int, gap_seconds: float, matcher: ContextMatcher) -> Tracking:
    """The shared Tracking of these settings."""
    return Tracking(lang, max_fillers, gap_seconds, matcher)


_NO_KINDS: frozenset[str] = frozenset()
_NO_ENDS: tuple[tuple[int, ...], ...] = ((),) * len(CONTEXT_KINDS)


SPEAKING_HOLD_FACTOR = 4.0
"""A run stays open at most this many continuation gaps while its speaker's next utterance is still a partial
without word times (Vosk partials carry text only: their start is where decoding stands, not where speech began)."""


def _wordless_partial(utt: Utterance) -> bool:
    return not utt.final and not utt.words


def held_open(utt: Utterance, carry: Piece, gap_seconds: float) -> bool:
    """True when `utt` is its speaker's word-less partial within the hold: the final's word times will decide."""
    return _wordless_partial(utt) and utt.end - carry.end <= SPEAKING_HOLD_FACTOR * gap_seconds


def stale_speakers(carries: Carries, now: float, gap_seconds: float) -> list[Speaker]:
    """Speakers whose open run ended more than `gap_seconds` before `now` (in carry order)."""
    return [speaker for speaker, carry in carries.items() if now - carry.end > gap_seconds]


def _close(carries: dict[Speaker, Piece], speaker: Speaker) -> Check:
    return Check(carries.pop(speaker), None, True, speaker)


def _word_time(utt: Utterance, index: int, start: bool) -> float:
    if utt.words and 0 <= index < len(utt.words):
        word = utt.words[index]
        return word.start if start else word.end
    return utt.start if start else utt.end


def _piece(run: DigitRun, view: NumberAnalysis, utt: Utterance, ends: tuple[tuple[int, ...], ...],
           carry: Piece | None, track: Tracking) -> Piece:
    start, end = _word_time(utt, run.first_word, True), _word_time(utt, run.last_word, False)
    first = run.first_word
    month_before = first > 0 and view.words[first - 1].lower() in MONTHS.get(track.lang, {})
    context = _NO_KINDS
    if ends is not _NO_ENDS:
        kinds = {kind for kind, found in zip(CONTEXT_KINDS[1:], ends[1:], strict=True) if found and first > found[0]}
        if ends[0]:
            kinds.add("payment")
        context = frozenset(kinds)
    lead = LEADING_HOMOPHONES.get(track.lang, {}).get(view.words[first - 1].lower().strip(",.")) if first else None
    piece = Piece(run.digits, run.segment_starts, start, end, (view,), 1, utt.index, month_before, utt.channel,
                  context, lead or "")
    near = start - carry.end <= track.gap_seconds or held_open(utt, carry, track.gap_seconds) if carry else False
    if carry is not None and run.open_start and carry.index != utt.index and near:
        offset = len(carry.digits)
        segments = carry.segments + tuple(offset + s for s in run.segment_starts)
        return Piece(carry.digits + run.digits, segments, carry.start, end, (*carry.sources, view),
                     carry.utterances + 1, utt.index, carry.month_before, utt.channel, carry.context | piece.context,
                     carry.lead)
    return piece


def compute_step(utt: Utterance, track: Tracking, carries: Carries) -> Step:
    """The Step of `utt` for a rule whose speakers left `carries` open.

    Runs left open end when the gap passed before `utt` began; when another speaker's final holds a prompt,
    a payment phrase or ≥ 4 non-filler tokens; or when the same speaker moves on (a later utterance that does
    not start with a run but has a word that is neither a filler nor a number).
    """
    left = dict(carries)
    expired = [
        speaker
        for speaker in stale_speakers(left, utt.start, track.gap_seconds)
        if not (speaker == utt.speaker and held_open(utt, left[speaker], track.gap_seconds))
    ]
    stale = tuple([_close(left, speaker) for speaker in expired])
    view = number_analysis(utt, track.lang)
    carry = left.get(utt.speaker)
    if carry is None and view.quiet(track.matcher) and not (utt.final and left):
        return Step(stale, _NO_ENDS, (), left if stale else carries)
    continues = carry is not None and carry.index != utt.index
    runs = view.runs(track.max_fillers, continues)
    ends = view.context_ends(track.matcher)
    if not any(ends):
        ends = _NO_ENDS
    checks: list[Check] = []
    if utt.final and (ends is not _NO_ENDS or view.content_tokens() >= 4):
        checks += [_close(left, speaker) for speaker in [s for s in left if s != utt.speaker]]
    starts_with_run = bool(runs) and runs[0].open_start
    if carry is not None and carry.index != utt.index and not starts_with_run and view.content_tokens() > 0:
        checks.append(_close(left, utt.speaker))
        carry = None
    next_carry: Piece | None = None
    for position, run in enumerate(runs):
        piece = _piece(run, view, utt, ends, carry if position == 0 else None, track)
        is_open = run.open_end and position == len(runs) - 1
        checks.append(Check(piece, utt, not is_open, utt.speaker))
        if is_open:
            next_carry = piece
    if utt.final:
        if next_carry is not None:
            left[utt.speaker] = next_carry
        else:
            left.pop(utt.speaker, None)
    return Step(stale, ends, tuple(checks), left)


def _same(a: Carries, b: Carries) -> bool:
    return a is b or (len(a) == len(b) and all(b.get(speaker) is piece for speaker, piece in a.items()))


_last: list[tuple[Utterance, list[tuple[Tracking, Carries, Step]]]] = []
"""Steps computed for the most recent Utterance object (one entry, so memory stays bounded across calls)."""


def utterance_step(utt: Utterance, track: Tracking, carries: Carries) -> Step:
    """`compute_step`, memoized for the most recent Utterance by (tracking, carries holding the same pieces)."""
    if _last and _last[0][0] is utt:
        steps = _last[0][1]
    else:
        steps = []
        _last[:] = [(utt, steps)]
    for known_track, known_carries, step in steps:
        if known_track is track and _same(known_carries, carries):
            return step
    step = _QUIET_STEP if not carries and _quiet(utt, track) else compute_step(utt, track, carries)
    steps.append((track, carries, step))
    return step


_QUIET_STEP = Step((), _NO_ENDS, (), {})
"""The step of an utterance without numbers or phrases while no run is open: nothing happens."""


def _quiet(utt: Utterance, track: Tracking) -> bool:
    return number_analysis(utt, track.lang).quiet(track.matcher)


def idle_utterance(utt: Utterance, words: Sequence[str], track: Tracking) -> bool:
    """True when `utt` changes nothing for a rule with these settings and no run open: it holds no possible number,
    and, if final, no context phrase either (partials' phrases are not noted; `compute_step` gives no checks)."""
    kind = track.matcher.word_kinds(words, track.lang)
    if kind == INERT or (kind != NUMBER and not utt.final):
        return True
    return kind != NUMBER and number_analysis(utt, track.lang).quiet(track.matcher)
