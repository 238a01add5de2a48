"""Acceptance 3: real recording-disclosure wordings satisfy the disclosure rule; paraphrases that are not do not.

Wordings come from ../shared/data/text/recording-disclosures.tsv (public notices, statutes and scripts; see
its `source` column): every row of kind recording_notice* that is a spoken wording, English and Italian.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from rules.engine import CallMonitor
from rules.model import RuleSpec
from rules.packs import load_packs
from rules.transcripts import transcript_events


@pytest.fixture(scope="module")
def disclosure() -> RuleSpec:
    return load_packs().rule("disclosure.recording")


def spoken_wordings(shared_data: Path) -> list[tuple[str, str, str]]:
    """(id, language, wording) of every spoken recording notice in the TSV."""
    out = []
    with (shared_data / "text" / "recording-disclosures.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if not row["kind"].startswith("recording_notice") or row["evidence_class"].startswith("regulation"):
                continue
            text = row["phrase_or_requirement"]
            if text.startswith("("):
                quoted = re.findall(r'"([^"]+)"', text)
                if not quoted:
                    continue  # a description of a practice, not a spoken wording
                text = quoted[-1]
            out.append((row["id"], row["lang"], text.replace("<company>", "Acme").lstrip(". ")))
    return out


def outcomes(spec: RuleSpec, lines: list[str], language: str) -> list[str]:
    monitor = CallMonitor([spec], call_id="t")
    return [f.outcome for event in transcript_events("t", lines, language) for f in monitor.feed(event)]


def test_every_real_wording_said_in_time_satisfies_the_rule(disclosure: RuleSpec, shared_data: Path) -> None:
    wordings = spoken_wordings(shared_data)
    assert {lang for _, lang, _ in wordings} == {"en", "it"}
    assert len(wordings) >= 14
    failures = []
    for row_id, language, text in wordings:
        got = outcomes(disclosure, [f"[2.0] agent: Hello, thanks for calling. {text}", "customer: okay"], language)
        if got != ["said"]:
            failures.append((row_id, text, got))
    print(f"disclosure wordings satisfied: {len(wordings) - len(failures)}/{len(wordings)}")
    assert not failures


def test_real_wording_said_by_the_customer_does_not_count(disclosure: RuleSpec, shared_data: Path) -> None:
    _, language, text = spoken_wordings(shared_data)[0]
    assert outcomes(disclosure, [f"customer: {text}"], language) == ["not_said"]


NOT_DISCLOSURES_EN = [
    "we record your preferences in your profile",
    "this call is about your recording studio booking",
    "I recorded the call details in your file",
    "the recorded message said the line was busy",
    "we may record your address for delivery",
    "this call may be about your order",
    "calls are routed to the next free agent",
    "your call is important to us",
    "did you record the show last night",
    "I can see a recorded delivery letter was sent",
    "this call may take a few minutes",
    "our records show a payment on Monday",
    "the call was dropped earlier, sorry about that",
    "please hold while I check your record",
    "we called you about the record player you ordered",
    "this is a call about your monitor warranty",
    "all calls to this number are free",
    "you may be eligible for a refund",
    "I have noted your recording preferences for the voicemail",
]
NOT_DISCLOSURES_IT = [
    "abbiamo registrato il suo nuovo indirizzo",
    "la chiamata riguarda la sua prenotazione",
    "le chiamate verso questo numero sono gratuite",
    "ho registrato la sua richiesta di rimborso",
    "questa chiamata potrebbe durare qualche minuto",
]


@pytest.mark.parametrize(
    ("language", "text"), [("en", t) for t in NOT_DISCLOSURES_EN] + [("it", t) for t in NOT_DISCLOSURES_IT]
)
def test_paraphrases_that_are_not_disclosures_do_not_satisfy(disclosure: RuleSpec, language: str, text: str) -> None:
    assert outcomes(disclosure, [f"agent: {text}"], language) == ["not_said"]


def test_at_least_twenty_negatives() -> None:
    assert len(NOT_DISCLOSURES_EN) + len(NOT_DISCLOSURES_IT) >= 20
