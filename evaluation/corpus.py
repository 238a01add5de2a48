"""Labelled scenario calls (synthesized): compliant, disclosure and consent failures, card data, near misses.

Agent lines are espeak-ng "en-us+f3" (speed 130), customer lines "en-us+klatt4" (speed 140); card numbers and
codes are real spoken digits from the Free Spoken Digit Dataset (`Turn.digits`), because espeak-ng digits are
badly recognized by the small Vosk model. Every call opens with a short warm-up line per party (the first
utterance on a fresh recognizer is often misheard). Labels format: docs/corpus.md (evaluation/corpus_labels.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evaluation.corpus_labels import CallLabels, ExpectedFinding
from evaluation.synth import SynthCall, SynthError, Turn, render_call, write_wav
from rules.events import Speaker

DEFAULT_FSDD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "audio" / "fsdd"
VOICES = {Speaker.AGENT: "en-us+f3", Speaker.CUSTOMER: "en-us+klatt4"}
AGENT_SPEED, CUSTOMER_SPEED = 130, 140
PAN_RULE, CVV_RULE, EXPIRY_RULE = "pci.pan-spoken", "pci.cvv-spoken", "pci.expiry-spoken"
DISCLOSURE_RULE, CONSENT_RULE = "disclosure.recording", "consent.recording"


@dataclass(frozen=True, slots=True)
class Expect:
    """An expected finding; `turn` (index into the scenario's turns) places it in time, `present` False = must not."""

    rule_id: str
    outcome: str
    turn: int | None = None
    present: bool = True
    speaker: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scripted call and the findings it must (not) produce."""

    name: str
    description: str
    turns: tuple[Turn, ...]
    expect: tuple[Expect, ...]
    tags: tuple[str, ...]
    fsdd_dir: Path

    def render(self) -> SynthCall:
        """The call's stereo audio (agent channel 0) and turn labels."""
        return render_call(
            self.turns, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=VOICES, fsdd_dir=self.fsdd_dir
        )

    def labels(self, call: SynthCall, audio_name: str) -> CallLabels:
        """The labels of this scenario rendered as `call` (expectation times taken from the rendered turns)."""
        expected = []
        for e in self.expect:
            turn = call.labels[e.turn] if e.turn is not None else None
            expected.append(
                ExpectedFinding(
                    e.rule_id, e.outcome, e.present, e.speaker, turn.start if turn else None, turn.end if turn else None
                )
            )
        turns = tuple(
            {"speaker": t.speaker.value, "text": t.text, "start": round(t.start, 3), "end": round(t.end, 3)}
            for t in call.labels
        )
        return CallLabels(
            self.name,
            self.description,
            audio_name,
            call.agent_channel,
            call.duration,
            turns,
            tuple(expected),
            self.tags,
        )


def a(text: str, at: float | None = None, digits: str = "", digit_voice: str = "george") -> Turn:
    """An agent line."""
    return Turn(Speaker.AGENT, text, at=at, speed=AGENT_SPEED, digits=digits, digit_voice=digit_voice)


def c(text: str, at: float | None = None, digits: str = "", digit_voice: str = "lucas") -> Turn:
    """A customer line."""
    return Turn(Speaker.CUSTOMER, text, at=at, speed=CUSTOMER_SPEED, digits=digits, digit_voice=digit_voice)


GREETING = a("good morning, thank you for calling acme bank. my name is sam.")
WARM_UP = c("good morning.")
OPENING = (
    GREETING,
    WARM_UP,
    a("this call may be recorded for quality and training purposes. is that okay with you?"),
    c("yes, i agree."),
    a("great. how can i help you today?"),
)
"""Turns 0-4: greeting, warm-up, disclosure + consent question (turn 2), consent (turn 3), offer of help."""
OPENED = (Expect(DISCLOSURE_RULE, "said", 2), Expect(CONSENT_RULE, "consent_given", 3))
NO_CARD_DATA = (
    Expect(PAN_RULE, "pan_detected", present=False),
    Expect(PAN_RULE, "possible_pan", present=False),
    Expect(CVV_RULE, "cvv_detected", present=False),
)
PAY_REQUEST = (c("i would like to pay my bill with a card."), a("sure. please read me the long card number."))
"""Turns 5-6 after OPENING: the customer wants to pay, the agent asks for the card number."""
CLOSING = (a("thank you. your payment is complete."), c("great, thanks. goodbye."))


def _pan_scenario(name: str, pan: str, voice: str, lead: str, fsdd: Path) -> Scenario:
    turns = (*OPENING, *PAY_REQUEST, c(lead, digits=pan, digit_voice=voice), *CLOSING)
    return Scenario(
        name,
        f"customer reads a test card ({len(pan)} digits, FSDD voice {voice}) after the agent asks for it",
        turns,
        (*OPENED, Expect(PAN_RULE, "pan_detected", 7, speaker="customer")),
        ("pan",),
        fsdd,
    )


def _near_miss(name: str, description: str, said: Sequence[Turn], fsdd: Path, *extra: Expect) -> Scenario:
    turns = (*OPENING, *said, *CLOSING)
    absent = tuple(e for e in NO_CARD_DATA if all(x.outcome != e.outcome for x in extra))
    return Scenario(name, description, turns, (*OPENED, *absent, *extra), ("near-miss",), fsdd)


def _compliance_scenarios(fsdd: Path) -> list[Scenario]:
    help_me = (c("i would like to check my balance please."), a("of course. one moment while i look that up."))
    return [
        Scenario(
            "compliant",
            "disclosure and consent in the opening, a balance question, no card data",
            (*OPENING, *help_me, a("everything looks fine on your account."), c("thank you, goodbye.")),
            (*OPENED, Expect(DISCLOSURE_RULE, "not_said", present=False), *NO_CARD_DATA),
            ("compliant",),
            fsdd,
        ),
        Scenario(
            "no-disclosure",
            "the agent never says the call is recorded",
            (
                GREETING,
                WARM_UP,
                a("how can i help you today?"),
                *help_me,
                a("everything looks fine on your account."),
                c("thank you, goodbye."),
            ),
            (Expect(DISCLOSURE_RULE, "not_said"), Expect(DISCLOSURE_RULE, "said", present=False)),
            ("disclosure",),
            fsdd,
        ),
        Scenario(
            "late-disclosure",
            "the recording notice comes at 36 s, after the 30 s window",
            (
                GREETING,
                WARM_UP,
                a("how can i help you today?"),
                c("i have a question about my bill."),
                a("before we continue, this call may be recorded for quality purposes.", at=36.0),
                c("okay."),
            ),
            (
                Expect(DISCLOSURE_RULE, "not_said"),
                Expect(DISCLOSURE_RULE, "late", 4),
                Expect(DISCLOSURE_RULE, "said", present=False),
            ),
            ("disclosure",),
            fsdd,
        ),
        Scenario(
            "consent-refused",
            "the customer refuses recording",
            (
                GREETING,
                WARM_UP,
                a("this call may be recorded for quality and training purposes. is that okay with you?"),
                c("no, i do not agree."),
                a("understood. i will stop the recording."),
            ),
            (
                Expect(DISCLOSURE_RULE, "said", 2),
                Expect(CONSENT_RULE, "consent_refused", 3),
                Expect(CONSENT_RULE, "consent_given", present=False),
            ),
            ("consent",),
            fsdd,
        ),
        Scenario(
            "consent-withdrawn",
            "consent given, withdrawn later in the call",
            (*OPENING, c("actually, i do not want to be recorded."), a("of course. i have stopped it.")),
            (*OPENED, Expect(CONSENT_RULE, "consent_withdrawn", 5)),
            ("consent",),
            fsdd,
        ),
    ]


def _card_scenarios(fsdd: Path) -> list[Scenario]:
    read_back = (
        *OPENING,
        *PAY_REQUEST,
        c("the number is", digits="5555555555554444", digit_voice="jackson"),
        a("let me read that back.", digits="5555555555554444", digit_voice="george"),
        *CLOSING,
    )
    cvv = (
        *OPENING,
        c("i would like to pay with the card you have on file."),
        a("sure. what is the three digit security code on the back of the card?"),
        c("", digits="737"),
        *CLOSING,
    )
    expiry = (
        *OPENING,
        c("i would like to pay with the card you have on file."),
        a("sure. what month and year does the card expire?"),
        c("", digits="0427"),
        *CLOSING,
    )
    return [
        _pan_scenario("pan-visa", "4111111111111111", "lucas", "it is", fsdd),
        _pan_scenario("pan-mastercard", "5555555555554444", "jackson", "the number is", fsdd),
        _pan_scenario("pan-amex", "378282246310005", "jackson", "sure", fsdd),
        _pan_scenario("pan-discover", "6011111111111117", "jackson", "okay", fsdd),
        _pan_scenario("pan-visa-stripe", "4242424242424242", "lucas", "it is", fsdd),
        Scenario(
            "pan-read-back",
            "the customer reads a card, the agent reads it back",
            read_back,
            (
                *OPENED,
                Expect(PAN_RULE, "pan_detected", 7, speaker="customer"),
                Expect(PAN_RULE, "pan_detected", 8, speaker="agent"),
            ),
            ("pan",),
            fsdd,
        ),
        Scenario(
            "cvv",
            "the customer says the security code after the agent's security-code prompt",
            cvv,
            (*OPENED, Expect(CVV_RULE, "cvv_detected", 7, speaker="customer")),
            ("cvv",),
            fsdd,
        ),
        Scenario(
            "expiry",
            "the customer says the expiry date (zero four two seven) after an expiration prompt",
            expiry,
            (*OPENED, Expect(EXPIRY_RULE, "expiry_detected", 7, speaker="customer")),
            ("expiry",),
            fsdd,
        ),
    ]


def _near_misses(fsdd: Path) -> list[Scenario]:
    return [
        _near_miss(
            "near-phone",
            "a 10-digit phone number is not a card",
            (
                c("can you call me back later?"),
                a("of course. what number should i call?"),
                c("my number is", digits="5551234567"),
            ),
            fsdd,
        ),
        _near_miss(
            "near-order",
            "an 8-digit order reference is not a card",
            (
                c("i am calling about an order."),
                a("sure. what is the order reference?"),
                c("the reference is", digits="12345678", digit_voice="jackson"),
            ),
            fsdd,
        ),
        _near_miss(
            "near-amount",
            "amounts of money are not card data",
            (
                c("what is my balance?"),
                a("your balance is two thousand four hundred and twelve dollars."),
                c("i will pay one hundred and fifty dollars today."),
            ),
            fsdd,
        ),
        _near_miss(
            "near-card-ending",
            "the agent names the card by its last four digits",
            (c("i would like to pay with my saved card."), a("is that the card ending in", digits="4242")),
            fsdd,
        ),
        _near_miss(
            "near-account",
            "a Luhn-failing 16-digit account number: possible card, never a card",
            (
                c("i have a question about my account."),
                a("sure. what is your account number?"),
                c("my account number is", digits="6011111111111118", digit_voice="jackson"),
            ),
            fsdd,
            Expect(PAN_RULE, "possible_pan", 7, speaker="customer"),
        ),
    ]


def scenarios(fsdd_dir: Path = DEFAULT_FSDD) -> list[Scenario]:
    """Every labelled scenario; `fsdd_dir` holds the Free Spoken Digit Dataset WAVs (shared/data/audio/fsdd)."""
    fsdd = fsdd_dir.resolve()
    if not (fsdd / "0_lucas_0.wav").is_file():
        raise SynthError(f"FSDD recordings not found in {fsdd}; pass the shared/data/audio/fsdd directory")
    return [*_compliance_scenarios(fsdd), *_card_scenarios(fsdd), *_near_misses(fsdd)]


def write_scenario(scenario: Scenario, directory: Path) -> Path:
    """Render one scenario into `directory` as NAME.wav + NAME.json (labels); returns the labels path."""
    call = scenario.render()
    wav = directory / f"{scenario.name}.wav"
    write_wav(wav, call.audio, call.rate)
    labels_path = directory / f"{scenario.name}.json"
    labels_path.write_text(json.dumps(scenario.labels(call, wav.name).to_json(), indent=2) + "\n", encoding="utf-8")
    return labels_path


def write_corpus(directory: Path, fsdd_dir: Path = DEFAULT_FSDD, names: Sequence[str] = ()) -> list[Path]:
    """Render every scenario (or only those in `names`) into `directory`; returns the labels paths."""
    directory.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in scenarios(fsdd_dir) if not names or s.name in names]
    unknown = set(names) - {s.name for s in chosen}
    if unknown:
        raise ValueError(f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in scenarios(fsdd_dir)]}")
    return [write_scenario(s, directory) for s in chosen]
