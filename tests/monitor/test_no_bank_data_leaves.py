"""Property: an IBAN, routing or account number read on a call leaves it only as its masked label.

Generated calls (small talk, payment prompts) carry IBAN Registry examples read in one breath (letters as letters,
NATO words or "G as in golf"; digits one by one or in pairs) and US routing + account numbers, in random positions;
the legs decode in a random interleaving and go the product's way (audio-time merge, every built-in and opt-in
pack, one redaction). No outward field may then hold the IBAN's letters and digits as spoken, four consecutive
digits of any of the numbers, or the numbers written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.call.redaction import CallRedaction
from monitor.sinks.live import finding_message, transcript_message
from monitor.store.rows import alert_payload
from rules.engine import CallMonitor
from rules.events import Event, Utterance
from rules.packs import RuleSet, load_packs
from rules.transcripts import transcript_events
from tests.monitor.test_no_card_data_leaves import decoded_order, leaks, strings

IBANS = ("GB82WEST12345698765432", "DE89370400440532013000", "NL91ABNA0417164300", "FR1420041010050500013M02606",
         "IT60X0542811101000000123456")
ROUTING, ACCOUNT = "021000021", "987654321012"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
NATO = {"A": "alpha", "B": "bravo", "D": "delta", "E": "echo", "F": "foxtrot", "G": "golf", "I": "india",
        "L": "lima", "M": "mike", "N": "november", "R": "romeo", "S": "sierra", "T": "tango", "W": "whiskey",
        "X": "x ray"}
RULESET: RuleSet = load_packs(optional=["all"])
WALL = 1_700_000_000.0
AGENT_LINES = ("thank you for calling acme bank. this call may be recorded.", "what are your bank details please",
               "how would you like to pay today?", "thank you. is there anything else?")
CUSTOMER_LINES = ("i would like to set up a direct debit", "yes", "okay", "sure go ahead")
LEAD_INS = ("", "my iban is", "it is", "okay so", "the account is")


def say(iban: str, letters: str, pairs: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(iban):
        ch = iban[i]
        if pairs and ch.isdigit() and ch not in "01" and i + 1 < len(iban) and iban[i + 1] in "123456789":
            out.append(f"{TENS[int(ch)]} {WORDS[int(iban[i + 1])]}")
            i += 2
            continue
        if ch.isdigit():
            out.append(WORDS[int(ch)])
        elif letters == "nato":
            out.append(NATO[ch])
        elif letters == "as in":
            out.append(f"{ch.lower()} as in {NATO[ch]}")
        else:
            out.append(ch.lower())
        i += 1
    return " ".join(out)


@st.composite
def bank_reading(draw: st.DrawFn) -> list[str]:
    speaker = draw(st.sampled_from(("customer", "customer", "agent")))
    if draw(st.booleans()):
        iban = draw(st.sampled_from(IBANS))
        text = say(iban, draw(st.sampled_from(("letters", "nato", "as in"))), draw(st.booleans()))
        return [f"{speaker}: {draw(st.sampled_from(LEAD_INS))} {text}".strip()]
    routing = " ".join(WORDS[int(d)] for d in ROUTING)
    account = " ".join(WORDS[int(d)] for d in ACCOUNT)
    return [f"{speaker}: the routing number is {routing}", f"{speaker}: and the account number is {account}"]


@st.composite
def call_script(draw: st.DrawFn) -> list[str]:
    parts = draw(st.lists(st.one_of(
        st.sampled_from(AGENT_LINES).map(lambda t: [f"agent: {t}"]),
        st.sampled_from(CUSTOMER_LINES).map(lambda t: [f"customer: {t}"]),
        bank_reading(),
    ), min_size=1, max_size=6))
    lines = [line for part in parts for line in part]
    return lines + draw(bank_reading())


def outward(events: list[Event]) -> list[Any]:
    monitor = CallMonitor(RULESET, call_id="prop")
    redaction = CallRedaction("en")
    sent: list[Any] = []
    for event in events:
        findings = monitor.feed(event)
        if isinstance(event, Utterance):
            sent.append(transcript_message("prop", event, redaction.utterance(event)))
        for finding in map(redaction.finding, findings):
            sent += [finding.to_json(), finding_message(finding, WALL), alert_payload(finding.to_json(), WALL)]
    sent.append(redaction.report(monitor.report()))
    return sent


def _patterns() -> re.Pattern[str]:
    numbers = [*IBANS, ROUTING, ACCOUNT]
    digit_runs = {re.sub(r"\D", "", n) for n in numbers}
    spoken = {" ".join(WORDS[int(d)] for d in run[i:i + 4]) for run in digit_runs for i in range(len(run) - 3)}
    written = {n.lower()[i:i + 6] for n in numbers for i in range(len(n) - 5)}
    bank_codes = [re.sub(r"\d", "", iban[4:]) for iban in IBANS]  # the letters after country and check digits
    letters = {" ".join(code.lower()) for code in bank_codes if len(code) >= 4}
    alternatives = sorted(spoken | written | letters, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) for a in alternatives))


BANK_DATA = _patterns()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=call_script(), picks=st.lists(st.integers(0, 1), max_size=40))
def test_no_outward_field_holds_bank_data(script: list[str], picks: list[int]) -> None:
    events = decoded_order(transcript_events("prop", script), picks)
    assert leaks(strings(outward(events)), BANK_DATA) == [], json.dumps(script)
