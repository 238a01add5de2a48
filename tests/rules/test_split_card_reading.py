"""A card read in slow groups: Vosk emits one long text-only partial per group; the open run must survive it."""

from __future__ import annotations

from rules.engine import CallMonitor
from rules.events import AudioTick, CallEnded, CallStarted, Event, Speaker, Utterance, Word
from rules.findings import Finding
from rules.packs import load_packs

WORD_SECONDS = 0.75
GAP_SECONDS = 0.8


def stream_like_vosk(turns: list[tuple[Speaker, str]]) -> list[Event]:
    """Events as streams/transcriber.py emits them: a text-only partial per word (start = end = decoded position),
    then a final with timed words; AudioTicks every second of audio in between."""
    events: list[Event] = [CallStarted("c", 0.0, "en")]
    index = {Speaker.AGENT: 0, Speaker.CUSTOMER: 0}
    clock, tick = 1.0, 1.0
    for speaker, text in turns:
        words = text.split()
        channel = 0 if speaker is Speaker.AGENT else 1
        for n in range(1, len(words) + 1):
            position = clock + n * WORD_SECONDS
            while tick <= position:
                events.append(AudioTick("c", tick))
                tick += 1.0
            partial = " ".join(words[:n])
            events.append(Utterance("c", speaker, channel, index[speaker], partial, (), position, position, False))
        timed = tuple(Word(w, clock + i * WORD_SECONDS, clock + i * WORD_SECONDS + 0.5) for i, w in enumerate(words))
        end = clock + len(words) * WORD_SECONDS
        events.append(Utterance("c", speaker, channel, index[speaker], text, timed, clock, end, True))
        index[speaker] += 1
        clock = end + GAP_SECONDS
    events.extend(AudioTick("c", float(t)) for t in range(int(tick), int(clock) + 6))
    events.append(CallEnded("c", clock + 6))
    return events


def pci_findings(events: list[Event]) -> list[Finding]:
    monitor = CallMonitor(load_packs(), call_id="c")
    found = [f for event in events for f in monitor.feed(event)]
    return [f for f in found if f.rule_id == "pci.pan-spoken" and f.outcome != "no_sensitive_numbers"]


def test_card_read_in_four_slow_groups_is_detected_once() -> None:
    # 5555555555554444 (Mastercard's test number) as Vosk split it for a real FSDD voice.
    events = stream_like_vosk(
        [
            (Speaker.AGENT, "sure please read me the card number"),
            (Speaker.CUSTOMER, "okay that five five"),
            (Speaker.CUSTOMER, "five five five five five"),
            (Speaker.CUSTOMER, "five five five five five"),
            (Speaker.CUSTOMER, "four four four four"),
        ]
    )
    findings = pci_findings(events)
    assert [(f.outcome, f.details.get("last4")) for f in findings] == [("pan_detected", "4444")]
    assert "5555" not in findings[0].evidence


def test_a_run_is_not_held_open_by_an_unrelated_long_partial() -> None:
    # The same speaker moves on to words: the first group is closed, never joined with digits said much later.
    events = stream_like_vosk(
        [
            (Speaker.AGENT, "what is your phone number"),
            (Speaker.CUSTOMER, "five five five one two"),
            (Speaker.CUSTOMER, "sorry i have to check something with my husband about the account first okay"),
            (Speaker.CUSTOMER, "three four five six seven eight nine one two three four"),
        ]
    )
    assert [f.outcome for f in pci_findings(events) if f.outcome == "pan_detected"] == []
