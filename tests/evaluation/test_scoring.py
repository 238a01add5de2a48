"""Scoring found findings against labels (evaluation/scoring.py): matching, P/R/F1, time error, info outcomes."""

from __future__ import annotations

import pytest

from evaluation.corpus_labels import ExpectedFinding
from evaluation.scoring import (
    CallScore,
    FoundFinding,
    in_window,
    recall_by,
    rule_scores,
    score_call,
    total_score,
)

PAN = "pci.pan-spoken"
DISCLOSURE = "disclosure.recording"


def pan_expected(
    start: float = 20.0, end: float = 30.0, at: float | None = 21.0, speaker: str = "customer"
) -> ExpectedFinding:
    return ExpectedFinding(PAN, "pan_detected", True, speaker, start, end, at)


def pan_found(start: float, speaker: str = "customer", outcome: str = "pan_detected") -> FoundFinding:
    return FoundFinding(PAN, outcome, "critical" if outcome == "pan_detected" else "medium", start, speaker)


def test_found_within_window_is_a_hit_with_time_error_from_at() -> None:
    score = score_call("c", [pan_expected()], [pan_found(22.5)], tolerance=3.0)
    assert [h.found.start for h in score.hits] == [22.5]
    assert score.hits[0].time_error == pytest.approx(1.5)
    assert score.misses == () and score.false_alarms == ()


def test_time_error_falls_back_to_turn_start_without_at() -> None:
    score = score_call("c", [pan_expected(at=None)], [pan_found(23.0)], tolerance=3.0)
    assert score.hits[0].time_error == pytest.approx(3.0)


def test_window_edges_include_tolerance_on_both_sides() -> None:
    expected = pan_expected(start=20.0, end=30.0)
    assert in_window(expected, pan_found(17.0), 3.0)
    assert in_window(expected, pan_found(33.0), 3.0)
    assert not in_window(expected, pan_found(16.9), 3.0)
    assert not in_window(expected, pan_found(33.1), 3.0)


def test_outside_window_is_a_miss_and_a_false_alarm() -> None:
    score = score_call("c", [pan_expected()], [pan_found(40.0)], tolerance=3.0)
    assert score.hits == ()
    assert score.misses == (pan_expected(),)
    assert [f.start for f in score.false_alarms] == [40.0]


def test_wrong_speaker_does_not_match_a_labelled_speaker() -> None:
    score = score_call("c", [pan_expected()], [pan_found(22.0, speaker="agent")], tolerance=3.0)
    assert len(score.misses) == 1 and len(score.false_alarms) == 1
    anyone = score_call("c", [pan_expected(speaker="")], [pan_found(22.0, speaker="agent")], tolerance=3.0)
    assert len(anyone.hits) == 1


def test_each_found_finding_matches_one_expectation_closest_first() -> None:
    customer = pan_expected(20.0, 32.0, 21.0, speaker="")
    agent = pan_expected(30.0, 40.0, 31.0, speaker="")
    score = score_call("c", [customer, agent], [pan_found(30.5)], tolerance=3.0)
    assert [h.expected for h in score.hits] == [agent]
    assert score.misses == (customer,)


def test_duplicate_detection_of_one_card_is_a_false_positive() -> None:
    score = score_call("c", [pan_expected()], [pan_found(22.0), pan_found(25.0)], tolerance=3.0)
    assert [h.found.start for h in score.hits] == [22.0]
    assert [f.start for f in score.false_alarms] == [25.0]


def test_info_outcomes_count_only_when_labelled() -> None:
    said = FoundFinding(DISCLOSURE, "said", "info", 7.0, "agent")
    no_sensitive = FoundFinding(PAN, "no_sensitive_numbers", "info", 40.0)
    ignored = score_call("c", [], [said, no_sensitive], tolerance=3.0)
    assert ignored.false_alarms == ()
    forbidden = score_call("c", [ExpectedFinding(DISCLOSURE, "said", present=False)], [said], tolerance=3.0)
    assert forbidden.false_alarms == (said,)
    wanted = score_call("c", [ExpectedFinding(DISCLOSURE, "said", True, "", 6.0, 12.0)], [said], tolerance=3.0)
    assert len(wanted.hits) == 1 and wanted.false_alarms == ()


def test_untimed_expectation_matches_any_time_without_time_error() -> None:
    not_said = ExpectedFinding(DISCLOSURE, "not_said")
    score = score_call("c", [not_said], [FoundFinding(DISCLOSURE, "not_said", "high", 30.0)], tolerance=3.0)
    assert len(score.hits) == 1 and score.hits[0].time_error is None
    timed = ExpectedFinding(DISCLOSURE, "not_said", at=30.0)
    late = score_call("c", [timed], [FoundFinding(DISCLOSURE, "not_said", "high", 30.4)], tolerance=3.0)
    assert late.hits[0].time_error == pytest.approx(0.4)


def test_rule_scores_precision_recall_f1_and_time_errors() -> None:
    calls = [
        score_call("a", [pan_expected()], [pan_found(21.5)], 3.0),  # TP, error 0.5
        score_call("b", [pan_expected()], [pan_found(23.5)], 3.0),  # TP, error 2.5
        score_call("c", [pan_expected()], [], 3.0),  # FN
        score_call("d", [ExpectedFinding(PAN, "pan_detected", present=False)], [pan_found(5.0)], 3.0),  # FP
        score_call("e", [pan_expected()], [pan_found(22.0, outcome="possible_pan")], 3.0),  # FN + FP possible
    ]
    by_key = {(s.rule_id, s.outcome): s for s in rule_scores(calls)}
    pan = by_key[(PAN, "pan_detected")]
    assert (pan.true_positives, pan.false_positives, pan.false_negatives) == (2, 1, 2)
    assert pan.precision == pytest.approx(2 / 3)
    assert pan.recall == pytest.approx(0.5)
    assert pan.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert pan.mean_time_error == pytest.approx(1.5)
    assert pan.median_time_error == pytest.approx(1.5)
    possible = by_key[(PAN, "possible_pan")]
    assert (possible.true_positives, possible.false_positives, possible.false_negatives) == (0, 1, 0)
    assert possible.precision == 0.0 and possible.recall is None and possible.f1 == 0.0
    total = total_score(list(by_key.values()))
    assert (total.true_positives, total.false_positives, total.false_negatives) == (2, 2, 2)


def test_absent_only_rows_show_zero_counts_and_undefined_rates() -> None:
    clean = score_call("a", [ExpectedFinding(PAN, "possible_pan", present=False)], [], 3.0)
    [row] = rule_scores([clean])
    assert (row.rule_id, row.outcome, row.true_positives, row.false_positives, row.false_negatives) == (
        PAN,
        "possible_pan",
        0,
        0,
        0,
    )
    assert row.precision is None and row.recall is None and row.f1 is None and row.mean_time_error is None
    assert row.to_json()["precision"] is None


def test_found_finding_from_report_json() -> None:
    data = {"rule_id": PAN, "outcome": "pan_detected", "severity": "critical", "start": 24.25, "speaker": "customer"}
    assert FoundFinding.from_json(data) == FoundFinding(PAN, "pan_detected", "critical", 24.25, "customer")


def test_recall_by_condition_groups_hits_and_labels() -> None:
    hit = score_call("a", [pan_expected()], [pan_found(21.0)], 3.0)
    miss = score_call("b", [pan_expected()], [], 3.0)
    other = CallScore("c", (), (), ())
    table = recall_by(
        [({"digit_speaker": "lucas"}, hit), ({"digit_speaker": "theo"}, miss), ({"digit_speaker": "theo"}, other)],
        PAN,
        "pan_detected",
        "digit_speaker",
    )
    assert table == {"lucas": (1, 1), "theo": (0, 1)}
