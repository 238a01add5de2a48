"""Speaker attribution of a single-channel (mono / mixed) leg: its utterances split into agent and customer turns.

A mono recording or a mixed stream (a recorder's single channel, FreeSWITCH `mixed`, a single-track Twilio stream)
reaches the engine as one leg whose speaker is `unknown`. `SpeakerAttributor` turns that leg's events into events
of the agent and of the customer, online (each event as it comes, no look-ahead), from text and word times only:

1. **Turns.** A final is cut into segments at pauses between its words of at least `split_gap` seconds (a change of
   speaker leaves a pause: a telephone conversation takes turns). Consecutive segments given the same speaker are
   joined again, so a final becomes one utterance per turn.
2. **Who speaks.** Each segment gets a score per side and goes to the higher one:
   - text cues: the side that greets the caller ("thank you for calling", "how can I help"), gives the recording
     notice, asks for consent or for the card, or offers service is the agent; the side that asks for something
     ("I would like", "my card"), refuses or withdraws consent, or reads digits after a card prompt is the customer;
   - question → answer: a short yes / no / okay right after the agent's question is the customer's; digits within
     2 s of the last digits are read by the same side (card numbers come in groups), other digits after the agent's
     card prompt are the customer's (other digits lean to the customer: agents mostly read numbers back), digits
     right after "let me read that back" are the reader's;
   - turn-taking: a segment after a short pause (< `turn_gap`) continues the previous speaker, one after a longer
     pause is more likely the other side; the call's first segment is more likely the agent's (the called side
     greets first), unless that segment is a bare "hello?" (who picks up an outbound call).
   The margin between the two scores gives `attribution_confidence` (0.5 = a coin flip … 1.0). A segment with no
   score at all (a single word with no cue, no previous turn) still gets the opener's side, at 0.5.
3. **Partials** carry no word times, so they are not cut: a partial gets the side its text points to (at that
   side's confidence; all partials of one utterance keep the first one's side). Partials of source utterance `i`
   are numbered `i * MAX_SEGMENTS`, its final's segments `i * MAX_SEGMENTS + j`: the first segment takes j = 0 when
   it is the partials' side (it is their final), else the segments take j ≥ 1 and an empty final of the partials'
   side, after them, closes the partials, so every partial the engine saw ends with a final of its own.
4. **Digit readings** (the digit pass) go to the side that read the digits of the latest segment that had any, else
   to the customer after a card prompt, else to the latest speaker.

The output utterances keep the leg's channel; their `attribution_confidence` is set (None on channel-attributed
legs). Rules treat a low-confidence or unknown attribution honestly: a required phrase heard in such a turn still
counts, with a note (rules/kinds/base.py `attribution_note`). Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from rules.events import DigitReading, Speaker, Utterance, Word
from rules.matching_text import normalize_tokens

MAX_SEGMENTS = 64
"""Output indices per source utterance (segments beyond the last slot join the last segment)."""

AGENT_CUES: dict[str, tuple[tuple[str, float], ...]] = {
    "en": (
        ("thank you for calling", 4.0), ("thanks for calling", 4.0), ("for calling", 3.0), ("welcome to", 2.0),
        ("how can i help", 4.0),
        ("how may i help", 4.0), ("what can i do for you", 4.0), ("how can we help", 3.0), ("speaking", 1.0),
        ("my name is", 1.5), ("this call", 2.0), ("your call", 2.0), ("recorded", 2.5), ("recording", 2.0),
        ("monitored", 2.5), ("quality", 1.5), ("training purposes", 2.0), ("for training", 2.0),
        ("is that okay", 2.5), ("is that alright", 2.5), ("okay with you", 2.5), ("do you agree", 3.0),
        ("do you consent", 3.0), ("are you okay with", 3.0), ("do you mind if", 2.5), ("can i have", 2.0),
        ("can i take", 2.0), ("could i have", 2.0), ("could you", 1.5), ("please read", 2.5), ("read me", 2.5),
        ("card number", 1.5), ("long number", 2.5), ("security code", 2.0), ("on the back", 2.0),
        ("expiry", 1.5), ("expiration", 1.5), ("what is the", 1.5), ("what number", 2.0),
        ("should i call", 2.5), ("read that back", 3.0), ("let me", 2.0), ("of course", 2.0),
        ("everything looks", 2.5), ("on your account", 2.0), ("your account", 1.5), ("your bill", 1.5),
        ("i will stop", 2.5), ("i have stopped", 3.0), ("stop the recording", 2.0), ("understood", 2.0),
        ("that is all done", 3.0), ("all done", 1.5), ("anything else", 2.5), ("one moment", 2.0),
        ("bear with me", 2.5), ("certainly", 1.5), ("no problem", 1.0), ("i can help", 2.5),
        ("i can see", 2.0), ("your payment", 2.0), ("payment is complete", 3.0), ("good morning", 0.5),
        ("before we continue", 2.5), ("may i", 1.5), ("sir", 1.0), ("madam", 1.0), ("great", 0.5),
    ),
    "it": (
        ("grazie per aver chiamato", 4.0), ("come posso aiutarla", 4.0), ("come posso esserle utile", 4.0),
        ("mi chiamo", 1.5), ("registrata", 2.5), ("registrazione", 2.0), ("registriamo", 3.0),
        ("acconsente", 3.0), ("e d accordo", 2.5), ("le va bene", 2.5), ("numero della carta", 2.0),
        ("codice di sicurezza", 2.0), ("scadenza", 1.5), ("mi puo dire", 2.0), ("mi dica", 2.0),
        ("certo", 1.0), ("un attimo", 2.0), ("altro", 1.0), ("informativa", 3.0), ("titolare", 2.5),
        ("finalita", 2.0), ("buongiorno", 0.5),
    ),
}
"""Phrases (normalized, matched on word boundaries) that point to the agent, with their weight."""

CUSTOMER_CUES: dict[str, tuple[tuple[str, float], ...]] = {
    "en": (
        ("i would like", 3.0), ("i want", 2.5), ("i need", 2.5), ("i have a question", 3.5),
        ("i am calling", 3.0), ("i was calling", 3.0), ("can you call me", 3.5), ("call me back", 3.5),
        ("my number is", 3.0), ("my card", 3.0), ("my account", 2.5), ("my bill", 2.5), ("my balance", 2.5),
        ("i do not agree", 4.0), ("do not want to be recorded", 5.0), ("do not record", 5.0),
        ("not be recorded", 4.0), ("i do not want", 3.0), ("i would rather not", 3.0), ("goodbye", 1.0),
        ("bye", 1.0), ("thanks", 0.5), ("go ahead", 2.0), ("that is fine", 2.0), ("fine by me", 2.5),
        ("the number is", 2.0), ("it is", 0.5), ("pay my", 2.5), ("pay with", 2.0), ("on file", 1.0),
        ("check my", 2.5),
    ),
    "it": (
        ("vorrei", 3.0), ("ho bisogno", 2.5), ("la mia carta", 3.0), ("il mio conto", 2.5), ("non voglio", 3.0),
        ("non acconsento", 4.0), ("non registrate", 5.0), ("arrivederci", 1.0), ("va bene", 1.5),
        ("il numero e", 2.0), ("chiamo per", 3.0),
    ),
}
"""Phrases that point to the customer, with their weight."""

ANSWER_WORDS = frozenset(
    {"yes", "yeah", "yep", "yup", "no", "nope", "okay", "sure", "fine", "alright", "right", "correct", "si", "certo",
     "va", "bene", "d'accordo", "accordo"}
)
"""First words of a short answer (the customer's, after the agent's question)."""

PICK_UP_WORDS = frozenset({"hello", "hi", "hey", "yes", "yeah", "pronto", "si", "hallo"})
"""A call's first words when they are only these are the called party picking up (an outbound call's customer):
a contact center's agent opens with a scripted greeting instead."""

QUESTION_CUES: dict[str, tuple[str, ...]] = {
    "en": (
        "is that okay", "okay with you", "do you agree", "do you consent", "are you okay with", "do you mind",
        "is that alright", "can i have", "could i have", "can i take", "what is", "what number", "read me",
        "please read", "how can i help", "how may i help", "anything else", "is that correct", "is that right",
    ),
    "it": ("e d accordo", "le va bene", "acconsente", "mi puo dire", "mi dica", "come posso"),
}
"""Agent questions after which the other side's short answer or digit run is the customer's."""

CARD_PROMPTS: dict[str, tuple[str, ...]] = {
    "en": ("card number", "long number", "security code", "on the back", "expiry", "expiration", "what number",
           "should i call", "read me", "your number"),
    "it": ("numero della carta", "codice di sicurezza", "scadenza", "numero"),
}
"""Agent prompts after which a digit run is the customer's."""

READ_BACK_CUES: dict[str, tuple[str, ...]] = {
    "en": ("read that back", "read it back", "read back", "let me repeat", "to confirm", "i have", "that is"),
    "it": ("rileggo", "ripeto", "confermo"),
}
"""Words after which the same side reads digits (an agent reading a number back)."""

DIGIT_WORDS = frozenset(
    {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
     "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"}
)


@dataclass(frozen=True, slots=True)
class AttributionConfig:
    """How a mono leg is split into turns and attributed (times in seconds of audio)."""

    split_gap: float = 0.3  # a pause inside a final at least this long may separate two speakers
    turn_gap: float = 0.3  # a segment after a shorter pause continues the previous speaker
    long_gap: float = 0.45  # from this pause on a change of speaker is as likely as `alternate_weight` says
    continue_weight: float = 1.5  # score for the previous speaker after a short pause
    alternate_weight: float = 1.0  # score for the other side after a long pause (half of it below `long_gap`)
    opener: Speaker = Speaker.AGENT  # who is assumed to speak first (the called side greets)
    opener_weight: float = 1.0
    answer_weight: float = 3.0  # a short answer after the other side's question
    digits_weight: float = 3.0  # a digit run after the agent's card prompt
    prompt_memory: float = 30.0  # a card prompt makes digits the customer's for this long
    digit_gap: float = 2.0  # digits within this pause of the last digits continue their reader's run
    confidence_scale: float = 2.0  # confidence = 0.5 + 0.5 * (1 - exp(-margin / scale))

    def __post_init__(self) -> None:
        if self.opener not in (Speaker.AGENT, Speaker.CUSTOMER):
            raise ValueError(f"AttributionConfig.opener must be agent or customer, got {self.opener!r}")
        for name in ("split_gap", "turn_gap", "confidence_scale", "prompt_memory"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"AttributionConfig.{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive words of one final given one speaker."""

    words: tuple[Word, ...]
    speaker: Speaker
    confidence: float


def _other(speaker: Speaker) -> Speaker:
    return Speaker.CUSTOMER if speaker is Speaker.AGENT else Speaker.AGENT


def _has(text: str, phrase: str) -> bool:
    return f" {phrase} " in text


def confidence_of(margin: float, scale: float) -> float:
    """The attribution confidence of a decision won by `margin` points: 0.5 (a tie) … → 1.0."""
    return round(0.5 + 0.5 * (1.0 - math.exp(-abs(margin) / scale)), 3)


class SpeakerAttributor:
    """One mono leg's attribution state (see the module docstring). Feed it that leg's events in order."""

    def __init__(self, language: str = "en", config: AttributionConfig | None = None) -> None:
        self.config = config or AttributionConfig()
        lang = language.replace("_", "-").split("-", 1)[0].lower()
        self.language = lang if lang in AGENT_CUES else "en"
        self._last_speaker: Speaker | None = None
        self._last_end = 0.0
        self._last_question_by: Speaker | None = None
        self._last_question_end = -math.inf
        self._prompt_end = -math.inf
        self._digit_speaker: Speaker | None = None
        self._partials: dict[int, Speaker] = {}
        self.confidences: list[float] = []

    # --- events ---------------------------------------------------------------------------------------------
    def attribute(self, event: Utterance) -> list[Utterance]:
        """The attributed utterances of one utterance of the mono leg (a final may become several turns)."""
        base = event.index * MAX_SEGMENTS
        if not event.final:
            known = self._partials.get(event.index)  # one speaker for all partials of an utterance
            speaker, confidence = self._guess_partial(event.text) if known is None else (known, 0.5)
            self._partials[event.index] = speaker
            return [replace(event, speaker=speaker, index=base, attribution_confidence=confidence)]
        out: list[Utterance] = []
        partial_speaker = self._partials.pop(event.index, None)
        if not event.words:  # no word times to cut at (an empty final, or a recognizer without words): one turn
            speaker, confidence = (
                (partial_speaker, 0.5) if partial_speaker is not None else self._guess_partial(event.text)
            )
            if event.text:
                self._last_speaker, self._last_end = speaker, event.end
            return [replace(event, speaker=speaker, index=base, attribution_confidence=confidence)]
        segments = self.segments(event.words)
        closing = partial_speaker is not None and (not segments or segments[0].speaker is not partial_speaker)
        first = 1 if closing else 0  # the first segment closes its speaker's partials under their index
        for j, segment in enumerate(segments, start=first):
            self.confidences.append(segment.confidence)
            out.append(
                Utterance(
                    event.call_id, segment.speaker, event.channel, base + min(j, MAX_SEGMENTS - 1),
                    " ".join(w.text for w in segment.words), segment.words, segment.words[0].start,
                    segment.words[-1].end, True, segment.confidence,
                )
            )
        if closing and partial_speaker is not None:
            # the partials' (speaker, index) ends with a final of its own: empty, as Vosk's own when a partial
            # came to nothing (the live feed drops the partial's line; the store keeps no empty line). It comes
            # after the turns: an empty "agent" final must not end a consent answer window before the answer.
            out.append(
                replace(
                    event, speaker=partial_speaker, index=base, text="", words=(), start=event.end,
                    attribution_confidence=0.5,
                )
            )
        return out

    def attribute_reading(self, reading: DigitReading) -> DigitReading:
        """A digit-pass reading of the mono leg, given to the side reading digits (see the module docstring)."""
        if self._digit_speaker is not None:
            speaker = self._digit_speaker
        elif reading.start - self._prompt_end <= self.config.prompt_memory:
            speaker = Speaker.CUSTOMER
        else:
            speaker = self._last_speaker or Speaker.CUSTOMER
        return replace(reading, speaker=speaker)

    # --- turns ----------------------------------------------------------------------------------------------
    def segments(self, words: tuple[Word, ...]) -> list[Segment]:
        """Cut `words` (one final) at pauses, attribute each piece in order, join neighbours of one speaker."""
        pieces: list[list[Word]] = []
        for word in words:
            if pieces and word.start - pieces[-1][-1].end < self.config.split_gap:
                pieces[-1].append(word)
            else:
                pieces.append([word])
        if len(pieces) > MAX_SEGMENTS - 1:
            pieces[MAX_SEGMENTS - 2 :] = [[w for piece in pieces[MAX_SEGMENTS - 2 :] for w in piece]]
        out: list[Segment] = []
        for piece in pieces:
            speaker, confidence = self._decide(piece)
            if out and out[-1].speaker is speaker:
                last = out[-1]
                out[-1] = Segment((*last.words, *piece), speaker, min(last.confidence, confidence))
            else:
                out.append(Segment(tuple(piece), speaker, confidence))
        return out

    def _decide(self, piece: list[Word]) -> tuple[Speaker, float]:
        """Score one segment, pick its speaker, and update the turn state."""
        tokens = normalize_tokens(" ".join(w.text for w in piece))
        text = f" {' '.join(tokens)} "
        start, end = piece[0].start, piece[-1].end
        agent, customer = self._cue_scores(text)
        scores = {Speaker.AGENT: agent, Speaker.CUSTOMER: customer}
        cfg = self.config
        if self._last_speaker is None:
            scores[cfg.opener] += cfg.opener_weight
            if 0 < len(tokens) <= 3 and set(tokens) <= PICK_UP_WORDS:  # "hello?": who picks up (an outbound call)
                scores[Speaker.CUSTOMER] += cfg.opener_weight + 1.5
        elif start - self._last_end < cfg.turn_gap:
            scores[self._last_speaker] += cfg.continue_weight
        else:  # a longer pause leans more to a change of speaker
            long = start - self._last_end >= cfg.long_gap
            scores[_other(self._last_speaker)] += cfg.alternate_weight * (1.0 if long else 0.5)
        asked_by = self._last_question_by
        if asked_by is not None and start - self._last_question_end < 10.0 and self._short_answer(tokens):
            scores[_other(asked_by)] += cfg.answer_weight
        digits = sum(1 for t in tokens if t in DIGIT_WORDS)
        run = digits >= 2 and digits * 5 >= len(tokens) * 2  # at least 40 % digit words
        if run and self._digit_speaker is not None and start - self._last_end < cfg.digit_gap:
            scores[self._digit_speaker] += cfg.digits_weight  # the side reading digits reads on (groups)
        elif run and start - self._prompt_end <= cfg.prompt_memory:
            scores[Speaker.CUSTOMER] += cfg.digits_weight
        elif run:  # a number read out of the blue: customers read numbers, agents mostly read them back
            scores[Speaker.CUSTOMER] += cfg.digits_weight / 2
        margin = scores[Speaker.AGENT] - scores[Speaker.CUSTOMER]
        speaker = self._side(margin) or self._last_speaker or cfg.opener
        self._note(speaker, text, tokens, end, digits)
        return speaker, confidence_of(margin, cfg.confidence_scale)

    @staticmethod
    def _side(margin: float) -> Speaker | None:
        """The side a score margin (agent − customer) points to; None on a tie."""
        if margin == 0:
            return None
        return Speaker.AGENT if margin > 0 else Speaker.CUSTOMER

    def _note(self, speaker: Speaker, text: str, tokens: tuple[str, ...], end: float, digits: int) -> None:
        self._last_speaker = speaker
        self._last_end = end
        if any(_has(text, q) for q in QUESTION_CUES[self.language]):
            self._last_question_by, self._last_question_end = speaker, end
        if speaker is Speaker.AGENT and any(_has(text, p) for p in CARD_PROMPTS[self.language]):
            self._prompt_end = end
        if digits >= 2 or any(_has(text, r) for r in READ_BACK_CUES[self.language]):
            self._digit_speaker = speaker  # digits next are theirs: a run continues, a read-back announced
        elif tokens:
            self._digit_speaker = None

    def _cue_scores(self, text: str) -> tuple[float, float]:
        agent = sum(weight for phrase, weight in AGENT_CUES[self.language] if _has(text, phrase))
        customer = sum(weight for phrase, weight in CUSTOMER_CUES[self.language] if _has(text, phrase))
        return agent, customer

    @staticmethod
    def _short_answer(tokens: tuple[str, ...]) -> bool:
        return 0 < len(tokens) <= 6 and tokens[0] in ANSWER_WORDS

    def _guess_partial(self, text: str) -> tuple[Speaker, float]:
        """A partial's side from its text alone (no word times): its cues, else the side that did not speak last
        (a new utterance follows a pause the recognizer took for an end: more often than not a change of turn)."""
        tokens = normalize_tokens(text)
        agent, customer = self._cue_scores(f" {' '.join(tokens)} ")
        if agent == customer:
            return (self.config.opener if self._last_speaker is None else _other(self._last_speaker)), 0.5
        speaker = Speaker.AGENT if agent > customer else Speaker.CUSTOMER
        return speaker, confidence_of(agent - customer, self.config.confidence_scale)
