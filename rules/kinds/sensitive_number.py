"""The `sensitive_number` rule kind: card numbers (PAN), CVVs, expiry dates and SSNs spoken on a call.

Per speaker it follows the digit run across partial → final and across consecutive utterances (a run left open
at the end of a final joins the next utterance of the same speaker when it starts within
`continuation_gap_seconds`, unless another speaker meanwhile said a prompt or a sentence of ≥ 4 words;
back-channels such as "okay" do not break it). Firing:
- `pan_detected` fires on the first partial/final in which the run *completes* a Luhn-valid PAN: a run still open
  at the end fires once it reaches the brand's usual length (16; Amex 15; Diners 36… 14) or 19 digits; other
  lengths (13-digit Visa, 17–19) fire when the run closes (a non-number word, the gap passing, the call ending).
- `possible_pan` (severity `medium` by default): a closed run of ≥ `possible_min_digits` digits without a PAN, in a
  payment context (a payment phrase in the utterance or within `context_window_seconds` before).
- `cvv_detected`, `expiry_detected`, `ssn_detected`: 3–4 digits / an MMYY or month-name expiry / a valid SSN shape
  after the matching prompt (same utterance, or within `prompt_window_seconds`, any speaker). Checked on finals.
- The same number is reported once per speaker (partial then final → one finding). The agent reading back a number
  the customer gave is its own `pan_detected` finding with speaker agent and `details.read_back = true`.
- The call's language (CallStarted.language: "en", "it") picks the number words and context phrases; params
  `context` add phrases per language. Unknown languages fall back to the rule's language, then English.
- Real ASR writes a leading "four"/"two" as "for"/"to"/"too" ("it is for one one one …"): when such a word
  directly precedes a run that holds no PAN, but the digit plus the run is a PAN of a length its brand issues, it
  counts (`details.leading_homophone = true`).
- Legs are transcribed in parallel, so an answer can arrive before its prompt: closed runs of 3–9 digits are kept
  for `prompt_window_seconds` and judged again when a prompt whose words ended before them arrives. Prompt times
  are the end of the prompt phrase's last word (the utterance's end when words are missing).
- At CallEnded, if nothing failing was found, one info finding `no_sensitive_numbers` records the clean call
  (its reason, and the rule's summary, mention possible card numbers when `possible_pan` fired).
- A `DigitReading` (the digit pass, a second recognizer restricted to digit words that runs around card talk) is a
  second reading of the same speech (`feed_reading`): a 13–19 digit Luhn-valid number in it is `pan_detected`
  (`details.pass = "digits"`; the first pass's are "first"); when neither pass heard a PAN, the closed reading of
  ≥ `possible_min_digits` digits in a payment context is `possible_pan`. Only what one pass heard whole is
  accepted, never a number pieced together from both. One reading is one card finding: a pan_detected (or
  possible_pan) of a speaker is not raised again for a reading overlapping an earlier one of that speaker in
  time (a possible_pan can still be followed by a pan_detected).
Evidence is redacted (rules/redact.py); details carry brand, digit count and last four digits, never the number.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from rules.cards import PanMatch, expiry_year, find_pan, is_cvv, parse_expiry, ssn_valid
from rules.digit_readings import ReadingRun, overlaps, reading_runs
from rules.events import AudioTick, CallStarted, DigitReading, Event, Speaker, Utterance
from rules.findings import Finding, Severity
from rules.kinds.sensitive_number_params import SensitiveNumberParams, check_params, parse_params
from rules.kinds.sensitive_number_track import (
    CONTEXT_KINDS,
    SPEAKING_HOLD_FACTOR,
    Carries,
    Check,
    Piece,
    Tracking,
    idle_utterance,
    stale_speakers,
    tracking,
    utterance_step,
)
from rules.model import ParamError, RuleOutcome, RuleSpec
from rules.number_analysis import context_matcher, utterance_words
from rules.spoken_numbers_lexicon import LEXICONS

_PROMPTS = ("cvv", "expiry", "ssn")
_SECONDARY = {"possible_pan": Severity.MEDIUM, "expiry_detected": Severity.MEDIUM}


def _fingerprint(digits: str) -> str:
    return hashlib.sha256(digits.encode()).hexdigest()[:16]


class SensitiveNumberRule:
    """Detects card numbers, CVVs, expiry dates and SSNs spoken on a call (see the module docstring)."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.params: SensitiveNumberParams = parse_params(spec.params, spec.language)
        self.lang = spec.language.replace("_", "-").split("-")[0].lower()
        if self.lang not in LEXICONS:
            self.lang = "en"
        self._tracking = self._track()
        self.call_id = ""
        self._carry: Carries = {}
        self._reported: set[tuple[str, Speaker, str]] = set()
        self._pan_speakers: dict[str, set[Speaker]] = {}
        self._last_seen: dict[str, float] = {}  # prompt kind → end of the latest prompt (the latest one wins)
        self._payment_seen: deque[float] = deque(maxlen=8)  # recent payment phrases' ends: one said after a number
        self._findings: list[Finding] = []
        self._ended = False
        self._pending: deque[tuple[Piece, Speaker]] = deque(maxlen=8)
        self._clock = 0.0
        # Speaker → index of their utterance recognized so far only as partials. A run left open by that speaker's
        # previous final is not closed by the clock while they are still talking (a card read in slow groups is one
        # long partial per group); the final's word times then decide whether it continues the run.
        self._speaking: dict[Speaker, int] = {}

    def _set_language(self, language: str) -> None:
        """Evaluate in the call's language when it has a lexicon, else in the rule's language."""
        primary = language.replace("_", "-").split("-")[0].lower()
        if primary and primary in LEXICONS and primary != self.lang:
            self.lang = primary
            self.params = parse_params(self.spec.params, primary)
            self._tracking = self._track()

    def _track(self) -> Tracking:
        matcher = context_matcher(tuple(self.params.context[kind] for kind in CONTEXT_KINDS))
        return tracking(self.lang, self.params.max_fillers, self.params.continuation_gap_seconds, matcher)

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[ParamError]:
        """Problems with `params` (see rules/kinds/sensitive_number_params.py)."""
        return check_params(params)

    # --- events ------------------------------------------------------------------------------------------
    @classmethod
    def feed_idle(cls, rules: Sequence[SensitiveNumberRule], event: Event) -> bool:
        """Handle `event` for all `rules` when surely idle: a tick closing no run, or an utterance without a possible
        number (a final: nor a context phrase, no run open; a partial: its speaker has no open run, it closes none).
        State is then updated exactly as `feed` would (call id, clock, who is speaking); else False, nothing done."""
        if isinstance(event, AudioTick):
            for rule in rules:  # a tick only closes runs left open longer than the gap
                if rule._carry and stale_speakers(rule._carry, event.at, rule.params.continuation_gap_seconds):
                    return False
        elif isinstance(event, Utterance):
            if not cls._idle_for_all(rules, event):
                return False
        else:
            return False
        for rule in rules:
            if not rule.call_id:
                rule.call_id = event.call_id
        return True

    @staticmethod
    def _idle_for_all(rules: Sequence[SensitiveNumberRule], utt: Utterance) -> bool:
        """Whether `utt` is idle for every rule (then their clock and speaking are updated): as `compute_step`'s
        early return without stale runs; with runs open only a partial of a speaker without one, closing none."""
        speaker = utt.speaker
        words: list[str] | None = None
        idle: Tracking | None = None
        for rule in rules:
            if speaker not in rule.params.speakers:
                continue
            carry = rule._carry
            if carry and (
                utt.final or speaker in carry or stale_speakers(carry, utt.start, rule.params.continuation_gap_seconds)
            ):
                return False
            track = rule._tracking
            if track is not idle:
                words = utterance_words(utt) if words is None else words
                if not idle_utterance(utt, words, track):
                    return False
                idle = track
        end, final, index = utt.end, utt.final, utt.index
        for rule in rules:
            if speaker in rule.params.speakers:
                if end > rule._clock:
                    rule._clock = end  # max(clock, end)
                speaking = rule._speaking  # as _note_speaking
                if not final:
                    speaking[speaker] = index
                elif speaking.get(speaker) == index:
                    del speaking[speaker]
        return True

    def _note_speaking(self, utt: Utterance) -> None:
        """Track the utterance index each speaker has only partials of so far (see `_speaking`)."""
        if utt.final:
            if self._speaking.get(utt.speaker) == utt.index:
                del self._speaking[utt.speaker]
        else:
            self._speaking[utt.speaker] = utt.index

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; return new findings."""
        if isinstance(event, Utterance):
            self.call_id = self.call_id or event.call_id
            if event.speaker not in self.params.speakers:  # a StrEnum: equal to (and hashed as) its value
                return []
            self._note_speaking(event)
            return self._utterance(event)
        if isinstance(event, CallStarted):
            self.call_id = event.call_id
            self._set_language(event.language)
            return []
        self.call_id = self.call_id or event.call_id
        if isinstance(event, AudioTick):
            return self._close_stale(event.at) if self._carry else []
        if isinstance(event, DigitReading):
            return self.feed_reading(event)
        return self._end(event.at)

    def outcome(self) -> RuleOutcome:
        """Failed when any failing outcome (PAN, CVV, SSN by default) was found."""
        failing = [f for f in self._findings if f.outcome in self.params.failing_outcomes]
        if failing:
            kinds = ", ".join(sorted({f.outcome for f in failing}))
            return RuleOutcome(self.spec.id, False, f"sensitive numbers spoken: {kinds} ({len(failing)} findings)")
        return RuleOutcome(self.spec.id, True, self._clean_summary())

    def _clean_summary(self) -> str:
        """What a call without failing findings had: nothing, or only findings that do not fail it."""
        names = {"pan": "card number", "cvv": "security code", "expiry": "expiry date", "ssn": "SSN"}
        watched = [name for detector, name in names.items() if detector in self.params.detectors]
        text = f"no {' or '.join(watched) or 'sensitive number'} was spoken"
        possible = sum(f.outcome == "possible_pan" for f in self._findings)
        if possible:
            text = f"no valid card number was spoken; {possible} possible card number(s) (Luhn fails) to review"
        quiet = ("possible_pan", "no_sensitive_numbers")
        others = sorted({f.outcome for f in self._findings if f.outcome not in quiet})
        return text + (f"; also {', '.join(others)} (not failing)" if others else "")

    # --- utterances --------------------------------------------------------------------------------------
    def _utterance(self, utt: Utterance) -> list[Finding]:
        step = utterance_step(utt, self._tracking, self._carry)
        findings = self._check_all(step.stale) if step.stale else []
        self._clock = max(self._clock, utt.end)
        if utt.final and any(step.context_ends):
            self._note_context(step.context_ends, utt)
            if self._pending and any(step.context_ends[1:]):  # a prompt (not a payment phrase) was just noted
                findings += self._recheck_pending()
        if step.checks:
            findings += self._check_all(step.checks)
        if step.carries is not self._carry and (step.carries or self._carry):
            self._carry = step.carries
        return findings

    def _note_context(self, ends: tuple[tuple[int, ...], ...], utt: Utterance) -> None:
        """Remember when prompts and payment phrases of a final utterance ended (their last word's end)."""
        found = dict(zip(CONTEXT_KINDS, ends, strict=True))
        if any(found[kind] for kind in _PROMPTS):  # the latest prompt wins: an expiry question ends the CVV window
            for kind in _PROMPTS:
                self._last_seen.pop(kind, None)
        for kind, kind_ends in found.items():
            if kind_ends:
                last = kind_ends[-1]
                end = utt.words[last].end if 0 <= last < len(utt.words) else utt.end
                if kind == "payment":
                    self._payment_seen.append(end)
                else:
                    self._last_seen[kind] = end

    def _remember_short(self, piece: Piece, speaker: Speaker) -> None:
        """Keep a closed 3–9 digit run: a prompt transcribed later (the other leg lags) may turn out to precede it."""
        if not self._pending or self._pending[-1][0] is not piece:
            self._pending.append((piece, speaker))  # a deque of the last few

    def _recheck_pending(self) -> list[Finding]:
        """Judge kept short runs again against the prompts just noted (only those that started after them)."""
        found: list[Finding] = []
        for piece, speaker in self._pending:
            if piece.end < self._clock - self.params.prompt_window_seconds:
                continue
            found += self._prompted(piece, speaker)
        return found

    def _check_all(self, checks: Sequence[Check]) -> list[Finding]:
        found: list[Finding] = []
        for check in checks:
            utt = check.utterance
            if utt is None and self._cannot_find(check.piece):  # a run closed from an earlier utterance
                continue
            final = True if utt is None else utt.final  # a run closed later is judged as a final of its own
            found += self._evaluate(check.piece, check.speaker, final, check.closed)
        return found

    # --- detection ---------------------------------------------------------------------------------------
    def _cannot_find(self, piece: Piece) -> bool:
        """True when `_evaluate` surely finds nothing: too few digits for a (possible) PAN, and no prompt or
        payment phrase in the piece's utterances or remembered from before."""
        p = self.params
        short = len(piece.digits) < min(p.min_pan_digits, p.possible_min_digits)
        return short and not piece.context and not self._last_seen and not self._payment_seen

    def _evaluate(self, piece: Piece, speaker: Speaker, final: bool, closed: bool) -> list[Finding]:
        """Findings for `piece`, said by `speaker` in a final (or partial) utterance; `closed`: it cannot grow."""
        if closed and 3 <= len(piece.digits) <= 9 and any(k in self.params.detectors for k in _PROMPTS):
            self._remember_short(piece, speaker)
        if self._cannot_find(piece):
            return []
        p = self.params
        found: list[Finding] = []
        pan = None
        if "pan" in p.detectors or "possible_pan" in p.detectors:
            pan = find_pan(piece.digits, piece.segments, open_end=not closed,
                           min_len=p.min_pan_digits, max_len=p.max_pan_digits)
            if pan is None and piece.lead:
                pan = self._lead_pan(piece, closed)
        if pan is not None:
            if "pan" in p.detectors:
                found += self._pan_finding(piece, speaker, final, pan.digits, pan.describe(), pan.brand,
                                           leading=pan.digits != piece.digits[pan.start : pan.end])
            return found
        if closed and "possible_pan" in p.detectors and len(piece.digits) >= p.possible_min_digits and (
            not p.possible_requires_context or self._recent("payment", piece, p.context_window_seconds)
        ):
            reason = f"{len(piece.digits)} digits in a payment context, not a valid card number (Luhn fails)"
            found += self._emit("possible_pan", piece, speaker, piece.digits, reason, {"luhn": False, "pass": "first"})
        if not (closed or final):
            return found
        found += self._prompted(piece, speaker)
        return found

    def _lead_pan(self, piece: Piece, closed: bool) -> PanMatch | None:
        """The PAN made of the leading homophone's digit and the whole run, when its length fits its brand."""
        p = self.params
        digits = piece.lead + piece.digits
        pan = find_pan(digits, tuple(s + 1 for s in piece.segments if s), open_end=not closed,
                       min_len=p.min_pan_digits, max_len=p.max_pan_digits)
        if pan is None or pan.start != 0 or pan.end != len(digits) or not pan.brand_length_ok:
            return None
        return pan

    def _prompted(self, piece: Piece, speaker: Speaker) -> list[Finding]:
        p, found = self.params, []
        window = p.prompt_window_seconds
        if "cvv" in p.detectors and is_cvv(piece.digits) and self._recent("cvv", piece, window):
            found += self._answered("cvv", self._emit("cvv_detected", piece, speaker, piece.digits,
                                f"{len(piece.digits)}-digit security code after a security-code prompt", {}))
        if "expiry" in p.detectors and self._recent("expiry", piece, window):
            expiry = parse_expiry(piece.digits)
            year = expiry_year(piece.digits) if piece.month_before else None
            if expiry is not None or year is not None:
                found += self._answered("expiry", self._emit("expiry_detected", piece, speaker, piece.digits,
                                                             "card expiry date after an expiry prompt", {}))
        if "ssn" in p.detectors and ssn_valid(piece.digits) and self._recent("ssn", piece, window):
            found += self._answered("ssn", self._emit("ssn_detected", piece, speaker, piece.digits,
                                "9 digits shaped like a US social security number after an SSN prompt", {}))
        return found

    def _answered(self, kind: str, found: list[Finding]) -> list[Finding]:
        """A prompt is answered once: after the code/date/SSN was found, later digits are not its answer."""
        if found:
            self._last_seen.pop(kind, None)
        return found

    def _recent(self, kind: str, piece: Piece, window: float) -> bool:
        """True when a `kind` phrase preceded the piece in its utterance or ended within `window` s before it."""
        if kind in piece.context:
            return True
        if kind == "payment":
            return any(-1e-9 <= piece.start - end <= window for end in self._payment_seen)
        seen = self._last_seen.get(kind)
        return seen is not None and -1e-9 <= piece.start - seen <= window

    def _pan_finding(self, piece: Piece, speaker: Speaker, final: bool, digits: str, described: str,
                     brand: str | None, leading: bool = False) -> list[Finding]:
        earlier = self._pan_speakers.get(_fingerprint(digits), set()) - {speaker}
        read_back = bool(earlier)
        reason = f"{described}, spoken by {speaker.value}"
        if leading:
            reason += " (its first digit transcribed as a homophone such as 'for')"
        if piece.utterances > 1:
            reason += f" (split over {piece.utterances} utterances)"
        if read_back:
            reason += f"; read back (first spoken by {', '.join(sorted(s.value for s in earlier))})"
        details = {"brand": brand or "unknown", "luhn": True, "read_back": read_back, "partial": not final,
                   "leading_homophone": leading, "pass": "first"}
        found = self._emit("pan_detected", piece, speaker, digits, reason, details)
        if found:
            self._pan_speakers.setdefault(_fingerprint(digits), set()).add(speaker)
        return found

    def _emit(self, outcome: str, piece: Piece, speaker: Speaker, digits: str, reason: str,
              extra: dict[str, Any]) -> list[Finding]:
        key = (outcome, speaker, _fingerprint(digits))
        if key in self._reported or self._card_found(outcome, speaker, piece.start, piece.end):
            return []
        self._reported.add(key)
        severity = self.params.severities.get(outcome) or _SECONDARY.get(outcome, self.spec.severity)
        details: dict[str, Any] = {"digit_count": len(digits), "last4": digits[-4:] if len(digits) >= 13 else "",
                                   "utterances": piece.utterances, **extra}
        finding = Finding(
            call_id=self.call_id, rule_id=self.spec.id, kind=self.spec.kind, outcome=outcome,
            severity=severity, start=piece.start, end=piece.end, reason=reason, evidence=piece.evidence,
            speaker=speaker, channel=piece.channel, details=details,
        )
        self._findings.append(finding)
        return [finding]

    def _card_found(self, outcome: str, speaker: Speaker, start: float, end: float) -> bool:
        """True when a card finding of `speaker` overlapping [start, end] makes this one redundant: any earlier
        pan_detected, and for a possible_pan also an earlier possible_pan (one reading, one card alert)."""
        if outcome not in ("pan_detected", "possible_pan"):
            return False
        blocking = ("pan_detected",) if outcome == "pan_detected" else ("pan_detected", "possible_pan")
        return any(
            f.outcome in blocking and f.speaker == speaker and overlaps(start, end, f.start, f.end)
            for f in self._findings
        )

    # --- the digit pass ----------------------------------------------------------------------------------
    def feed_reading(self, reading: DigitReading) -> list[Finding]:
        """A digit-pass reading of a leg (see the module docstring): pan_detected, possible_pan or nothing, per run
        of the reading (digit words more than READING_GAP_SECONDS apart are separate runs)."""
        self.call_id = self.call_id or reading.call_id
        p = self.params
        if self._ended or reading.speaker not in p.speakers or not ({"pan", "possible_pan"} & p.detectors):
            return []
        runs = reading_runs(reading.words)
        found: list[Finding] = []
        for position, run in enumerate(runs):
            closed = reading.final or position < len(runs) - 1
            found += self._judge_run(reading, run, closed)
        return found

    def _judge_run(self, reading: DigitReading, run: ReadingRun, closed: bool) -> list[Finding]:
        p = self.params
        digits = run.digits
        if len(digits) < min(p.min_pan_digits, p.possible_min_digits):
            return []
        pan = find_pan(digits, run.boundaries, open_end=not closed, min_len=p.min_pan_digits,
                       max_len=p.max_pan_digits)
        if pan is not None:
            if "pan" not in p.detectors:
                return []
            earlier = self._pan_speakers.get(_fingerprint(pan.digits), set()) - {reading.speaker}
            reason = f"{pan.describe()}, spoken by {reading.speaker.value} (heard by the {reading.source} pass)"
            if earlier:
                reason += f"; read back (first spoken by {', '.join(sorted(s.value for s in earlier))})"
            details = {"brand": pan.brand or "unknown", "luhn": True, "read_back": bool(earlier),
                       "partial": not closed, "leading_homophone": False, "pass": reading.source}
            found = self._emit_reading("pan_detected", reading, run.start, run.end, pan.digits, reason, details)
            if found:
                self._pan_speakers.setdefault(_fingerprint(pan.digits), set()).add(reading.speaker)
            return found
        if not (closed and "possible_pan" in p.detectors and len(digits) >= p.possible_min_digits):
            return []
        if p.possible_requires_context and not self._payment_before(run.start, p.context_window_seconds):
            return []
        reason = (f"{len(digits)} digits in a payment context, not a valid card number (Luhn fails; "
                  f"heard by the {reading.source} pass)")
        return self._emit_reading("possible_pan", reading, run.start, run.end, digits, reason,
                                  {"luhn": False, "pass": reading.source})

    def _payment_before(self, start: float, window: float) -> bool:
        """True when a payment phrase ended within `window` seconds before `start`."""
        return any(-1e-9 <= start - end <= window for end in self._payment_seen)

    def _emit_reading(self, outcome: str, reading: DigitReading, start: float, end: float, digits: str,
                      reason: str, extra: dict[str, Any]) -> list[Finding]:
        key = (outcome, reading.speaker, _fingerprint(digits))
        if key in self._reported or self._card_found(outcome, reading.speaker, start, end):
            return []
        self._reported.add(key)
        severity = self.params.severities.get(outcome) or _SECONDARY.get(outcome, self.spec.severity)
        details: dict[str, Any] = {"digit_count": len(digits), "last4": digits[-4:] if len(digits) >= 13 else "",
                                   "utterances": 1, **extra}
        evidence = f"[{len(digits)} digits heard by the {reading.source} pass]"
        finding = Finding(
            call_id=self.call_id, rule_id=self.spec.id, kind=self.spec.kind, outcome=outcome,
            severity=severity, start=start, end=end, reason=reason, evidence=evidence,
            speaker=reading.speaker, channel=reading.channel, details=details,
        )
        self._findings.append(finding)
        return [finding]

    # --- closing runs ------------------------------------------------------------------------------------
    def _close_stale(self, now: float) -> list[Finding]:
        gap = self.params.continuation_gap_seconds
        stale = [
            speaker
            for speaker in stale_speakers(self._carry, now, gap)
            if speaker not in self._speaking or now - self._carry[speaker].end > SPEAKING_HOLD_FACTOR * gap
        ]
        return self._close(stale) if stale else []

    def _close(self, speakers: Sequence[Speaker]) -> list[Finding]:
        left = dict(self._carry)
        checks = [Check(left.pop(speaker), None, True, speaker) for speaker in speakers]
        self._carry = left
        return self._check_all(checks)

    def _end(self, at: float) -> list[Finding]:
        if self._ended:
            return []
        found = self._close(list(self._carry))
        self._ended = True
        if not any(f.outcome in self.params.failing_outcomes for f in self._findings):
            clean = Finding(self.call_id, self.spec.id, self.spec.kind, "no_sensitive_numbers", Severity.INFO, at, at,
                            f"{self._clean_summary()} on this call")
            self._findings.append(clean)
            found.append(clean)
        return found
