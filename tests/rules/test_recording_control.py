"""PCI pause/resume: a payment context pauses the recording, quiet resumes it; other calls are left alone."""

from __future__ import annotations

from rules.recording_control import PAUSE, RESUME, ControlEvent, RecordingControl
from rules.transcripts import transcript_events


def controls(lines: list[str], language: str = "en", resume_after: float = 10.0) -> list[ControlEvent]:
    control = RecordingControl(language, resume_after_seconds=resume_after)
    return [c for event in transcript_events("c", lines, language) for c in control.feed(event)]


def test_card_prompt_pauses_and_quiet_after_the_security_code_resumes() -> None:
    found = controls([
        "agent: thank you, can I take the card number please",
        "customer: four one one one one one one one one one one one one one one one",
        "agent: and the security code",
        "customer: one two three",
        "[40] agent: thanks, that's all done, anything else today",
    ])
    assert [(c.action, c.trigger, c.sequence) for c in found] == [(PAUSE, "prompt", 1), (RESUME, "quiet", 2)]
    pause, resume = found
    assert pause.at <= 3.15  # the prompt's partial (its 9th word ends at 3.15 s), before the customer's first digit
    assert 20.0 < resume.at < 40.0 and pause.call_id == "c"
    assert resume.to_json()["action"] == "resume_recording"


def test_first_digits_of_a_card_pause_without_a_prompt() -> None:
    found = controls(["customer: it's four one one one one one one one one one one one one one one one"])
    assert [(c.action, c.trigger) for c in found] == [(PAUSE, "digits")]
    assert found[0].at < 4.0  # on the partial holding the first eight digits, long before the final


def test_digits_in_a_payment_context_pause_and_keep_it_open() -> None:
    found = controls([
        "agent: how would you like to pay today",
        "customer: by debit please",
        "customer: five five five five",
        "[9] customer: five five five five",
        "[30] agent: lovely",
    ], resume_after=8.0)
    assert [(c.action, c.trigger) for c in found] == [(PAUSE, "digits"), (RESUME, "quiet")]
    assert found[1].at > 18.0  # 8 s after the second group, not after the first


def test_calls_without_payment_get_no_control_events() -> None:
    assert controls([
        "agent: this call may be recorded, how can I help",
        "customer: my order number is one two three four five six seven",
        "customer: and call me back on one eight hundred five five five one two one two",
        "agent: thanks, goodbye",
    ]) == []


def test_an_iban_pauses_and_italian_prompts_work() -> None:
    spoken = "g b eight two w e s t one two three four five six nine eight seven six five four three two"
    iban = controls([f"customer: {spoken}"])
    assert [(c.action, c.trigger) for c in iban] == [(PAUSE, "bank_number")]
    italian = controls(["agent: mi dice il numero della carta", "customer: quattro uno uno uno"], language="it")
    assert [(c.action, c.trigger) for c in italian] == [(PAUSE, "prompt")]


def test_the_call_language_picks_the_prompts_and_unknown_languages_fall_back_to_english() -> None:
    italian = RecordingControl("en")  # the call's CallStarted says Italian
    events = transcript_events("c", ["agent: mi dice il numero della carta"], "it-IT")
    assert [c.trigger for e in events for c in italian.feed(e)] == ["prompt"]
    german = RecordingControl("de-DE")
    events = transcript_events("c", ["agent: the card number please"], "de")
    assert [c.trigger for e in events for c in german.feed(e)] == ["prompt"]
