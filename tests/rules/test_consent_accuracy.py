"""Acceptance 4: consent answers (English and Italian, traps included) are classified with ≥ 95 % accuracy."""

from __future__ import annotations

import pytest

from rules.engine import CallMonitor
from rules.kinds.consent_answers import Polarity, classify_answer
from rules.packs import RuleSet, load_packs
from rules.transcripts import transcript_events

QUESTION = {
    "en": "agent: this call may be recorded, do you consent to being recorded?",
    "it": "agent: questa chiamata può essere registrata, acconsente alla registrazione?",
}
INVERTED = {"en": "agent: do you mind if we record this call?", "it": "agent: le dispiace se registriamo la chiamata?"}
Y, N, U = "consent_given", "consent_refused", "consent_unclear"

# (language, inverted question?, customer answer lines separated by " | ", expected outcome)
ANSWERS: list[tuple[str, bool, str, str]] = [
    ("en", False, "yes", Y),
    ("en", False, "yeah sure", Y),
    ("en", False, "yes that's fine", Y),
    ("en", False, "no problem", Y),
    ("en", False, "I don't mind", Y),
    ("en", False, "sure no worries", Y),
    ("en", False, "okay", Y),
    ("en", False, "of course go ahead", Y),
    ("en", False, "that's fine by me", Y),
    ("en", False, "yep", Y),
    ("en", False, "I agree", Y),
    ("en", False, "absolutely", Y),
    ("en", False, "uh huh yes", Y),
    ("en", False, "no no that's fine", Y),
    ("en", False, "I guess so", Y),
    ("en", False, "not a problem at all", Y),
    ("en", False, "yes please carry on", Y),
    ("en", False, "hmm | yes okay", Y),
    ("en", False, "I consent", Y),
    ("en", False, "sounds good", Y),
    ("en", False, "no", N),
    ("en", False, "I'd rather not", N),
    ("en", False, "please don't", N),
    ("en", False, "yes | actually no", N),
    ("en", False, "yes actually no", N),
    ("en", False, "no thanks", N),
    ("en", False, "I don't consent", N),
    ("en", False, "nope", N),
    ("en", False, "I'm not okay with that", N),
    ("en", False, "I would prefer you didn't", N),
    ("en", False, "absolutely not", N),
    ("en", False, "I don't want to be recorded", N),
    ("en", False, "sure | wait no I don't want this recorded", N),
    ("en", False, "not really", N),
    ("en", False, "okay but please don't record", N),
    ("en", False, "what do you mean", U),
    ("en", False, "sorry can you repeat that", U),
    ("en", False, "I'm not sure", U),
    ("en", False, "I don't know", U),
    ("en", False, "hang on my dog is barking", U),
    ("en", True, "no go ahead", Y),
    ("en", True, "not at all", Y),
    ("en", True, "I don't mind", Y),
    ("en", True, "yes I do", N),
    ("en", True, "yes I'd rather you didn't", N),
    ("it", False, "sì", Y),
    ("it", False, "sì certo", Y),
    ("it", False, "va bene", Y),
    ("it", False, "certo nessun problema", Y),
    ("it", False, "d'accordo", Y),
    ("it", False, "sì sì va benissimo", Y),
    ("it", False, "accetto", Y),
    ("it", False, "ok faccia pure", Y),
    ("it", False, "non c'è problema", Y),
    ("it", False, "preferirei di no", N),
    ("it", False, "non voglio essere registrato", N),
    ("it", False, "no grazie", N),
    ("it", False, "non sono d'accordo", N),
    ("it", False, "sì | anzi no preferisco di no", N),
    ("it", False, "non va bene", N),
    ("it", False, "assolutamente no", N),
    ("it", False, "non acconsento", N),
    ("it", False, "come scusi", U),
    ("it", False, "non lo so", U),
    ("it", True, "no, faccia pure", Y),
    ("it", True, "per niente", Y),
    ("it", True, "sì mi dispiace", N),
    # Held out while the lexicon was first written (18/24 right then); kept as regression cases.
    ("en", False, "go on then", Y),
    ("en", False, "if you must", Y),
    ("en", False, "nah I'm good", N),
    ("en", False, "I'd prefer you didn't record", N),
    ("en", False, "yes I'm fine with it", Y),
    ("en", False, "do what you have to do", Y),
    ("en", False, "please do not record me", N),
    ("en", False, "that's alright with me", Y),
    ("en", False, "I'd rather you not", N),
    ("en", False, "mm no", N),
    ("en", False, "no I don't think so", N),
    ("en", False, "I think so yes", Y),
    ("en", False, "don't worry about it go ahead", Y),
    ("it", False, "direi di sì", Y),
    ("it", False, "direi di no", N),
    ("it", False, "tranquillamente", Y),
    ("it", False, "va bene grazie", Y),
    ("it", False, "no no per carità", N),
    ("it", False, "no guardi preferisco di no", N),
    ("it", False, "sì va bene registri pure", Y),
    ("it", False, "non mi interessa registri pure", Y),
    ("it", False, "no non mi va", N),
    ("it", False, "certo che sì", Y),
    ("en", False, "whatever", U),
]


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_packs()


def _consent_outcome(ruleset: RuleSet, language: str, inverted: bool, answer: str) -> str:
    spec = ruleset.rule("consent.recording")
    lines = [(INVERTED if inverted else QUESTION)[language]]
    lines += [f"customer: {part.strip()}" for part in answer.split("|")]
    monitor = CallMonitor([spec], call_id="acc")
    outcomes = [f.outcome for e in transcript_events("acc", lines, language) for f in monitor.feed(e)]
    decided = [o for o in outcomes if o in (Y, N, U)]
    assert len(decided) == 1, f"exactly one verdict per answer window, got {outcomes}"
    return decided[0]


def test_consent_accuracy_at_least_95_percent(ruleset: RuleSet) -> None:
    assert len(ANSWERS) >= 60
    assert {lang for lang, *_ in ANSWERS} == {"en", "it"}
    wrong = []
    for language, inverted, answer, expected in ANSWERS:
        got = _consent_outcome(ruleset, language, inverted, answer)
        if got != expected:
            wrong.append((language, answer, expected, got))
    accuracy = 1 - len(wrong) / len(ANSWERS)
    print(f"consent accuracy: {accuracy:.1%} on {len(ANSWERS)} answers; misclassified: {wrong}")
    assert accuracy >= 0.95, wrong


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("yes… actually no", Polarity.NO),
        ("no, that's fine", Polarity.YES),
        ("I'm not sure", Polarity.UNCLEAR),
        ("not okay", Polarity.NO),
    ],
)
def test_last_clear_polarity_wins(answer: str, expected: Polarity) -> None:
    assert classify_answer(answer, "en").polarity is expected


def test_italian_negated_yes_is_no() -> None:
    verdict = classify_answer("non va bene", "it")
    assert verdict.polarity is Polarity.NO
    assert verdict.deciding_cue == "va bene"
