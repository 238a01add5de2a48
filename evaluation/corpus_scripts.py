"""Scripted call kinds of the generated corpus: who says what (with a cast of voices), and the findings expected.

Each builder takes a `Cast` (voices, speeds, FSDD digit speakers) and a seeded `random.Random` for wording
variants and numbers; evaluation/corpus_gen.py renders, degrades and labels the result.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluation.corpus import (
    CONSENT_RULE,
    CVV_RULE,
    DISCLOSURE_RULE,
    NO_CARD_DATA,
    PAN_RULE,
    Expect,
)
from evaluation.synth import Turn
from rules.cards import luhn_valid
from rules.events import Speaker

DISCLOSURE_WINDOW_SECONDS = 30.0
"""disclosure.recording's window (rules/packs/recording-disclosure.yaml): `not_said` is stamped at this time."""


@dataclass(frozen=True, slots=True)
class Cast:
    """Who speaks: espeak-ng voices and speeds per party, FSDD speakers for the customer's and agent's digits."""

    agent_voice: str
    agent_speed: int
    customer_voice: str
    customer_speed: int
    digit_speaker: str
    agent_digit_speaker: str

    def agent(self, text: str, digits: str = "", at: float | None = None) -> Turn:
        """An agent line (digits read by `agent_digit_speaker`)."""
        return Turn(Speaker.AGENT, text, at, self.agent_voice, self.agent_speed, digits, self.agent_digit_speaker)

    def customer(self, text: str, digits: str = "", at: float | None = None) -> Turn:
        """A customer line (digits read by `digit_speaker`)."""
        return Turn(Speaker.CUSTOMER, text, at, self.customer_voice, self.customer_speed, digits, self.digit_speaker)


@dataclass(frozen=True, slots=True)
class Script:
    """One call to render: turns and expectations (Expect.turn indexes `turns`)."""

    kind: str
    description: str
    turns: tuple[Turn, ...]
    expect: tuple[Expect, ...]
    tags: tuple[str, ...]


DISCLOSURES = (
    "this call may be recorded for quality and training purposes. is that okay with you?",
    "please note this call is being recorded for training purposes. do you agree to being recorded?",
    "your call may be monitored or recorded. are you okay with this call being recorded?",
)
CONSENTS = ("yes, go ahead.", "yes, that is fine.", "okay, sure.")
REFUSALS = ("no, i do not agree.", "no, please do not record this call.")
CARD_LEADS = ("it is", "the number is", "sure, it's", "okay", "my card number is")
CARD_PROMPTS = ("sure. please read me the long card number.", "of course. what is the card number?")


def load_test_cards(path: Path) -> tuple[str, ...]:
    """The distinct Luhn-valid 13-19 digit numbers of shared/data/text/test-pans.tsv (public test cards), in order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read test cards from {path}: {exc} (shared/data/text/test-pans.tsv)") from None
    cards: list[str] = []
    for line in lines[1:]:
        digits = line.split("\t", 1)[0].strip()
        if digits.isdigit() and 13 <= len(digits) <= 19 and luhn_valid(digits) and digits not in cards:
            cards.append(digits)
    if not cards:
        raise ValueError(f"{path} holds no Luhn-valid test card numbers (first column, 13-19 digits)")
    return tuple(cards)


def near_miss(card: str) -> str:
    """`card` with its check digit changed: the same length and brand prefix, never Luhn-valid."""
    last = int(card[-1])
    return card[:-1] + str((last + 5) % 10)


def opening(cast: Cast, rng: random.Random) -> tuple[Turn, ...]:
    """Turns 0-4: greeting, warm-up, disclosure + consent question (2), consent (3), offer of help (4)."""
    return (
        cast.agent("good morning, thank you for calling acme bank. my name is sam."),
        cast.customer("good morning."),
        cast.agent(rng.choice(DISCLOSURES)),
        cast.customer(rng.choice(CONSENTS)),
        cast.agent("great. how can i help you today?"),
    )


OPENED = (Expect(DISCLOSURE_RULE, "said", 2), Expect(CONSENT_RULE, "consent_given", 3))


def closing(cast: Cast) -> tuple[Turn, ...]:
    return (cast.agent("thank you. that is all done."), cast.customer("great, thanks. goodbye."))


def pan(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    card = rng.choice(cards)
    turns = (
        *opening(cast, rng),
        cast.customer("i would like to pay my bill with a card."),
        cast.agent(rng.choice(CARD_PROMPTS)),
        cast.customer(rng.choice(CARD_LEADS), digits=card),
        *closing(cast),
    )
    expect = (*OPENED, Expect(PAN_RULE, "pan_detected", 7, speaker="customer"))
    return Script("pan", f"customer reads a {len(card)}-digit test card", turns, expect, ("pan", f"len{len(card)}"))


def pan_read_back(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    card = rng.choice(cards)
    turns = (
        *opening(cast, rng),
        cast.customer("i would like to pay my bill with a card."),
        cast.agent(rng.choice(CARD_PROMPTS)),
        cast.customer(rng.choice(CARD_LEADS), digits=card),
        cast.agent("let me read that back.", digits=card),
        *closing(cast),
    )
    expect = (
        *OPENED,
        Expect(PAN_RULE, "pan_detected", 7, speaker="customer"),
        Expect(PAN_RULE, "pan_detected", 8, speaker="agent"),
    )
    return Script("pan-read-back", "customer reads a test card, the agent reads it back", turns, expect, ("pan",))


def luhn_invalid(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    number = near_miss(rng.choice([c for c in cards if len(c) == 16]))
    turns = (
        *opening(cast, rng),
        cast.customer("i would like to pay my bill with a card."),
        cast.agent(rng.choice(CARD_PROMPTS)),
        cast.customer(rng.choice(CARD_LEADS), digits=number),
        *closing(cast),
    )
    expect = (
        *OPENED,
        Expect(PAN_RULE, "possible_pan", 7, speaker="customer"),
        Expect(PAN_RULE, "pan_detected", present=False),
    )
    description = "customer reads a Luhn-failing 16-digit number after a card prompt: possible card, never a card"
    return Script("luhn-invalid", description, turns, expect, ("near-miss",))


def cvv(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    code = f"{rng.randrange(100, 1000)}"
    turns = (
        *opening(cast, rng),
        cast.customer("i would like to pay with the card you have on file."),
        cast.agent("sure. what is the three digit security code on the back of the card?"),
        cast.customer("", digits=code),
        *closing(cast),
    )
    expect = (*OPENED, Expect(CVV_RULE, "cvv_detected", 7, speaker="customer"))
    return Script("cvv", "customer says a 3-digit security code after the prompt", turns, expect, ("cvv",))


def phone(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    number = "555" + "".join(str(rng.randrange(10)) for _ in range(7))
    turns = (
        *opening(cast, rng),
        cast.customer("can you call me back later?"),
        cast.agent("of course. what number should i call?"),
        cast.customer("my number is", digits=number),
        *closing(cast),
    )
    return Script("phone", "a 10-digit phone number is not card data", turns, (*OPENED, *NO_CARD_DATA), ("near-miss",))


def compliant(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    turns = (
        *opening(cast, rng),
        cast.customer("i would like to check my balance please."),
        cast.agent("of course. everything looks fine on your account."),
        cast.customer("thank you, goodbye."),
    )
    expect = (*OPENED, *NO_CARD_DATA)
    return Script(
        "compliant", "disclosure and consent, a balance question, no card data", turns, expect, ("compliant",)
    )


def _no_opening(cast: Cast) -> tuple[Turn, ...]:
    return (
        cast.agent("good morning, thank you for calling acme bank. my name is sam."),
        cast.customer("good morning."),
        cast.agent("how can i help you today?"),
        cast.customer("i have a question about my bill."),
    )


def no_disclosure(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    turns = (*_no_opening(cast), cast.agent("of course. everything looks fine on your bill."), cast.customer("thanks."))
    expect = (
        Expect(DISCLOSURE_RULE, "not_said"),
        Expect(DISCLOSURE_RULE, "said", present=False),
        Expect(CONSENT_RULE, "consent_given", present=False),
    )
    return Script("no-disclosure", "the agent never says the call is recorded", turns, expect, ("disclosure",))


def late_disclosure(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    turns = (
        *_no_opening(cast),
        cast.agent("before we continue, this call may be recorded for quality purposes.", at=36.0),
        cast.customer("okay."),
    )
    expect = (
        Expect(DISCLOSURE_RULE, "not_said"),
        Expect(DISCLOSURE_RULE, "late", 4),
        Expect(DISCLOSURE_RULE, "said", present=False),
    )
    return Script("late-disclosure", "the recording notice comes at 36 s (window 30 s)", turns, expect, ("disclosure",))


def consent_refused(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    turns = (
        *opening(cast, rng)[:3],
        cast.customer(rng.choice(REFUSALS)),
        cast.agent("understood. i will stop the recording."),
    )
    expect = (
        Expect(DISCLOSURE_RULE, "said", 2),
        Expect(CONSENT_RULE, "consent_refused", 3),
        Expect(CONSENT_RULE, "consent_given", present=False),
    )
    return Script("consent-refused", "the customer refuses recording", turns, expect, ("consent",))


def consent_withdrawn(cast: Cast, rng: random.Random, cards: tuple[str, ...]) -> Script:
    turns = (
        *opening(cast, rng),
        cast.customer("actually, i do not want to be recorded."),
        cast.agent("of course. i have stopped it."),
    )
    expect = (*OPENED, Expect(CONSENT_RULE, "consent_withdrawn", 5))
    return Script("consent-withdrawn", "consent given, withdrawn later in the call", turns, expect, ("consent",))


Builder = Callable[[Cast, random.Random, tuple[str, ...]], Script]
BUILDERS: dict[str, Builder] = {
    "pan": pan,
    "pan-read-back": pan_read_back,
    "luhn-invalid": luhn_invalid,
    "cvv": cvv,
    "phone": phone,
    "compliant": compliant,
    "no-disclosure": no_disclosure,
    "late-disclosure": late_disclosure,
    "consent-refused": consent_refused,
    "consent-withdrawn": consent_withdrawn,
}
KIND_CYCLE = (
    "pan",
    "compliant",
    "pan",
    "luhn-invalid",
    "pan-read-back",
    "cvv",
    "pan",
    "no-disclosure",
    "pan",
    "phone",
    "pan",
    "late-disclosure",
    "pan",
    "consent-refused",
    "luhn-invalid",
    "consent-withdrawn",
)
"""Call i of a generated corpus is KIND_CYCLE[i % 16]: 6 of 16 calls read a card, 1 reads one back, 2 a near miss."""
