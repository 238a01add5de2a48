"""PCI "pause and resume": when a call enters a payment context, tell the recorder to pause; resume after it.

`RecordingControl.feed(event)` returns control events: `pause_recording` when a payment context opens — a card or
bank-detail prompt ("card number", "security code", "IBAN", …) or the first digits of a card-like run (≥ 8 digits
starting 2-6, or ≥ 4 digits within `context_seconds` of a payment phrase, or a bank number) in a partial or a
final, any leg —
and `resume_recording` once `resume_after_seconds` of audio passed without digits or prompts (a card number is
followed by its expiry and security code, so a closed run alone does not resume). Time is the call's audio clock
(utterance ends, AudioTicks). Pure: the monitor delivers the events (MQTT, webhook).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rules.bank_numbers import find_bank_numbers
from rules.cards import DEFAULT_CONTEXT, phrase_ends
from rules.events import AudioTick, CallStarted, Event, Utterance
from rules.spoken_numbers import parse_tokens, split_words, tokenize

PAUSE, RESUME = "pause_recording", "resume_recording"
PROMPTS: dict[str, tuple[str, ...]] = {
    "en": ("card number", "long number", "number on the card", "numbers on the card", "card details",
           "number on the front", "expiry date", "expiration date", "iban", "routing number", "sort code",
           "bank details", "account and routing"),
    "it": ("numero della carta", "numero di carta", "dati della carta", "numeri della carta", "iban",
           "coordinate bancarie", "data di scadenza"),
}
"""Prompts that open a payment context at once, besides the security-code prompts of rules.cards."""
CARD_LIKE_DIGITS = 8
"""Outside a payment context, a run pauses once it reaches this many digits and starts like a card (2-6)."""
CARD_FIRST_DIGITS = "23456"
CONTEXT_DIGITS = 4
"""Within a payment context, a run of this many digits pauses."""


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """One instruction to the recorder: `action` (pause_recording | resume_recording) at audio time `at`."""

    call_id: str
    action: str
    at: float
    trigger: str
    """Why: "prompt", "digits", "bank_number" (pause); "quiet" (resume)."""
    sequence: int

    def to_json(self) -> dict[str, object]:
        """The JSON shape published on callwarden/calls/<id>/control (the monitor adds wall times)."""
        return {
            "type": "control", "call_id": self.call_id, "action": self.action, "at": round(self.at, 3),
            "trigger": self.trigger, "sequence": self.sequence,
        }


class RecordingControl:
    """Per-call pause/resume state (see the module docstring)."""

    def __init__(
        self, language: str = "en", resume_after_seconds: float = 10.0, context_seconds: float = 60.0
    ) -> None:
        self._resume_after = resume_after_seconds
        self._context = context_seconds
        self._language = "en"
        self._prompts: tuple[str, ...] = ()
        self._payment: tuple[str, ...] = ()
        self._set_language(language)
        self._call_id = ""
        self._paused = False
        self._last_activity = 0.0
        self._payment_at: float | None = None
        self._sequence = 0

    @property
    def paused(self) -> bool:
        """True between a pause and its resume."""
        return self._paused

    def feed(self, event: Event) -> list[ControlEvent]:
        """Consume one event of the call (in audio-time order); the control events it causes."""
        if isinstance(event, CallStarted):
            self._call_id = event.call_id
            if event.language:
                self._set_language(event.language)
            return []
        self._call_id = self._call_id or event.call_id
        if isinstance(event, Utterance):
            return self._utterance(event)
        if isinstance(event, AudioTick):
            return self._quiet(event.at)
        return []

    def _set_language(self, language: str) -> None:
        """Number words and prompts of `language` ("it-IT" → it); languages without them fall back to English."""
        key = language.lower().replace("_", "-").split("-")[0]
        self._language = key if key in PROMPTS else "en"
        self._prompts = (*PROMPTS[self._language], *DEFAULT_CONTEXT["cvv"][self._language])
        self._payment = DEFAULT_CONTEXT["payment"][self._language]

    def _utterance(self, utterance: Utterance) -> list[ControlEvent]:
        out = self._quiet(utterance.start)
        words = [w.text for w in utterance.words] if utterance.words else split_words(utterance.text)
        trigger = self._trigger(words, utterance.end)
        if trigger is None:
            return out
        self._last_activity = max(self._last_activity, utterance.end)
        if not self._paused:
            self._paused = True
            out.append(self._event(PAUSE, utterance.end, trigger))
        return out

    def _trigger(self, words: Sequence[str], end: float) -> str | None:
        tokens = tokenize(words)
        pairs = [(t.text, t.word) for t in tokens]
        payment_phrase = bool(phrase_ends(pairs, self._payment))
        in_context = payment_phrase or (self._payment_at is not None and end - self._payment_at <= self._context)
        if payment_phrase:
            self._payment_at = end
        if phrase_ends(pairs, self._prompts):
            return "prompt"
        runs = parse_tokens(tokens, self._language)
        longest = max((len(run.digits) for run in runs), default=0)
        card_like = any(len(r.digits) >= CARD_LIKE_DIGITS and r.digits[0] in CARD_FIRST_DIGITS for r in runs)
        if card_like or (in_context and longest >= CONTEXT_DIGITS):
            return "digits"
        if self._paused and longest >= 2:
            return "digits"  # expiry, security code and the rest keep the pause open
        if longest >= CONTEXT_DIGITS and find_bank_numbers(words, self._language, runs):
            return "bank_number"
        return None

    def _quiet(self, now: float) -> list[ControlEvent]:
        if self._paused and now - self._last_activity >= self._resume_after:
            self._paused = False
            return [self._event(RESUME, self._last_activity + self._resume_after, "quiet")]
        return []

    def _event(self, action: str, at: float, trigger: str) -> ControlEvent:
        self._sequence += 1
        return ControlEvent(self._call_id, action, at, trigger, self._sequence)
