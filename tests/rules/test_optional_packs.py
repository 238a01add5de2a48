"""The opt-in jurisdiction packs: loaded only when named, ≥ 8 + 8 examples per rule and language, all passing."""

from __future__ import annotations

from collections import Counter

import pytest

from rules.engine import CallMonitor
from rules.examples import run_examples
from rules.packs import OPTIONAL_PACKS_DIR, PackError, RuleSet, load_packs, optional_pack_names
from rules.transcripts import transcript_events

OPT_IN = {"tcpa", "tcpa-prerecorded", "us-two-party-consent", "fdcpa", "garante-it", "hipaa", "bank-data"}
LANGUAGES = {
    "tcpa": {"en"}, "tcpa-prerecorded": {"en"}, "us-two-party-consent": {"en"}, "fdcpa": {"en"}, "hipaa": {"en"},
    "garante-it": {"it"}, "bank-data": {"en", "it"},
}


@pytest.fixture(scope="module")
def optional() -> RuleSet:
    return load_packs(builtin=False, optional=["all"])


def test_opt_in_packs_are_not_loaded_by_default() -> None:
    assert set(optional_pack_names()) == OPT_IN
    default = {pack.id for pack in load_packs().packs}
    assert default == {"pci", "consent", "recording-disclosure", "gdpr", "conduct"}
    assert not default & OPT_IN


def test_named_opt_in_packs_load_beside_the_builtin_ones() -> None:
    ids = [pack.id for pack in load_packs(optional=["tcpa", "hipaa", "tcpa"]).packs]
    assert ids.count("tcpa") == 1 and "hipaa" in ids and "fdcpa" not in ids and "pci" in ids
    assert all(p.source.startswith(str(OPTIONAL_PACKS_DIR)) for p in load_packs(builtin=False, optional=["all"]).packs)


def test_an_unknown_opt_in_pack_fails_closed_naming_the_known_ones() -> None:
    with pytest.raises(PackError) as info:
        load_packs(optional=["tcpa", "gdpr-uk"])
    message = str(info.value)
    assert "no opt-in pack 'gdpr-uk'" in message
    assert "bank-data, fdcpa, garante-it, hipaa, tcpa, tcpa-prerecorded, us-two-party-consent" in message


def test_every_rule_has_eight_positive_and_eight_hard_negative_examples_per_language(optional: RuleSet) -> None:
    assert {pack.id for pack in optional.packs} == OPT_IN
    for rule in optional.rules:
        positive = Counter(e.language or rule.language for e in rule.positive)
        negative = Counter(e.language or rule.language for e in rule.negative)
        assert set(positive) == set(negative) == LANGUAGES[rule.pack_id], rule.id
        for language in LANGUAGES[rule.pack_id]:
            assert positive[language] >= 8 and negative[language] >= 8, (rule.id, language, positive, negative)


def test_every_example_of_the_opt_in_packs_passes(optional: RuleSet) -> None:
    results = run_examples(optional)
    failures = [r for r in results if not r.passed]
    assert len(results) >= 14 * 16
    assert not failures, "\n".join(f"{r.rule_id} {r.polarity} {r.name!r}: {r.message}" for r in failures)


def _findings(ruleset: RuleSet, lines: list[str], language: str = "en") -> list[tuple[str, str]]:
    monitor = CallMonitor(ruleset, call_id="c")
    found = [f for event in transcript_events("c", lines, language) for f in monitor.feed(event)]
    return [(f.rule_id, f.outcome) for f in found]


def test_phi_is_a_finding_only_before_the_identity_was_verified() -> None:
    hipaa = load_packs(builtin=False, optional=["hipaa"])
    phi = "agent: your test results came back positive"
    verify = "agent: can you confirm your date of birth please"
    before = _findings(hipaa, [phi, verify])
    after = _findings(hipaa, [verify, "customer: may fourth", phi])
    assert ("hipaa.phi-before-verification", "disclosed_unverified") in before
    assert ("hipaa.phi-before-verification", "absent") in after
    assert ("hipaa.identity-verification", "said") in before and ("hipaa.identity-verification", "said") in after
    monitor = CallMonitor(hipaa, call_id="c")
    found = [f for e in transcript_events("c", [phi]) for f in monitor.feed(e)]
    finding = next(f for f in found if f.outcome == "disclosed_unverified")
    assert finding.kind == "unverified_disclosure" and finding.details["intent"] == "phi_disclosure"
    verdict = next(o for o in monitor.outcomes() if o.rule_id == finding.rule_id)
    assert finding.severity == "critical" and verdict.passed is False


def test_a_member_id_read_out_is_redacted_in_the_evidence() -> None:
    hipaa = load_packs(builtin=False, optional=["hipaa"])
    monitor = CallMonitor(hipaa, call_id="c")
    lines = ["agent: your member id is four one one one one one one one one one one one one one one one"]
    found = [f for e in transcript_events("c", lines) for f in monitor.feed(e)]
    finding = next(f for f in found if f.outcome == "disclosed_unverified")
    assert "one one one" not in finding.evidence and "one one one" not in finding.reason


def test_tcpa_do_not_call_request_is_logged_with_time_and_evidence_without_failing_the_call() -> None:
    tcpa = load_packs(builtin=False, optional=["tcpa"])
    monitor = CallMonitor(tcpa, call_id="c")
    lines = ["agent: hi, my name is Ann calling from Sunrise Solar", "customer: take me off your list"]
    events = transcript_events("c", lines)
    found = [f for e in events for f in monitor.feed(e)]
    request = next(f for f in found if f.outcome == "do_not_call_requested")
    assert request.start > 0 and "take me off your list" in request.evidence and request.details["violation"] is False
    assert next(o for o in monitor.outcomes() if o.rule_id == "tcpa.do-not-call-request").passed
