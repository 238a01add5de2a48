"""Coaching figures from a real store over a seeded history (tests/monitor/coaching_seed.py): per agent and per queue,
calls, pass rate, findings per rule per 100 calls, the trend against the previous period, worst rules, the
per-day series and the CSV rows — every number worked out by hand from HISTORY."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.store.coaching import CSV_COLUMNS, csv_rows
from monitor.store.database import Store
from monitor.store.records import StoreError
from tests.monitor.coaching_seed import DAY, seed_history

START = 1_718_000_000.0
UNTIL = START + 7 * DAY


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store.open(tmp_path_factory.mktemp("coaching") / "cw.db") as opened:
        seed_history(opened, START)
        yield opened


def group(report: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in report["groups"] if g["key"] == key)
    return found


def test_per_agent_this_week_against_last_week(store: Store) -> None:
    report = store.coaching(since=START, until=UNTIL, by="agent")
    assert [g["key"] for g in report["groups"]] == ["bob", "ann", "(none)"]  # worst pass rate first
    assert report["rules"] == ["disclosure.recording", "pci.pan-spoken"]

    ann = group(report, "ann")
    assert (ann["calls"], ann["scored"], ann["passed"], ann["pass_rate"]) == (4, 4, 3, 0.75)
    assert (ann["previous"]["calls"], ann["previous"]["pass_rate"]) == (4, 0.25)
    assert ann["trend"] == {"pass_rate": 0.5, "findings_per_100": -50.0}  # 25 per 100 now, 75 before
    assert ann["per_rule_per_100"] == {"disclosure.recording": 25.0}
    rules = {r["rule"]: (r["per_100"], r["previous_per_100"], r["change"]) for r in ann["rules"]}
    assert rules == {"disclosure.recording": (25.0, 0.0, 25.0), "pci.pan-spoken": (0.0, 75.0, -75.0)}
    assert [w["rule"] for w in ann["worst_rules"]] == ["disclosure.recording"]
    assert ann["avg_score"] == 77.5

    bob = group(report, "bob")
    assert (bob["calls"], bob["pass_rate"], bob["previous"]["pass_rate"], bob["trend"]["pass_rate"]) == (
        4, 0.25, 1.0, -0.75
    )
    assert [(w["rule"], w["per_100"]) for w in bob["worst_rules"]] == [
        ("disclosure.recording", 75.0), ("pci.pan-spoken", 50.0)
    ]
    assert bob["findings_per_100"] == 125.0 and bob["previous"]["findings_per_100"] == 0.0  # info is no alert

    nobody = group(report, "(none)")
    assert (nobody["calls"], nobody["scored"], nobody["pass_rate"], nobody["trend"]["pass_rate"]) == (1, 0, None, None)
    assert nobody["findings_per_100"] == 0.0  # its one finding is compliant (info)


def test_the_series_has_one_bucket_per_day(store: Store) -> None:
    ann = group(store.coaching(since=START, until=UNTIL, by="agent", buckets=7), "ann")
    assert [s["calls"] for s in ann["series"]] == [1, 1, 1, 0, 0, 1, 0]
    assert [s["pass_rate"] for s in ann["series"]] == [1.0, 1.0, 1.0, None, None, 0.0, None]
    assert [s["start"] for s in ann["series"]] == [START + d * DAY for d in range(7)]


def test_per_queue_and_the_active_call_is_left_out(store: Store) -> None:
    report = store.coaching(since=START, until=UNTIL, by="queue")
    assert {g["key"]: (g["calls"], g["pass_rate"]) for g in report["groups"]} == {
        "billing": (4, 0.75), "payments": (4, 0.25), "(none)": (1, None)
    }  # ann's active call would make billing 5


def test_csv_has_one_row_per_group_and_rule(store: Store) -> None:
    rows = csv_rows(store.coaching(since=START, until=UNTIL, by="agent"))
    assert all(set(r) <= set(CSV_COLUMNS) for r in rows)
    assert [(r["group"], r.get("rule", "")) for r in rows] == [
        ("bob", "disclosure.recording"), ("bob", "pci.pan-spoken"),
        ("ann", "disclosure.recording"), ("ann", "pci.pan-spoken"), ("(none)", ""),
    ]
    ann_pci = rows[3]
    changes = (ann_pci["per_100_calls"], ann_pci["previous_per_100_calls"], ann_pci["per_100_change"])
    assert changes == (0.0, 75.0, -75.0)
    assert rows[4]["pass_rate"] == "" and rows[4]["calls"] == 1


def test_bad_requests_say_what_to_fix(store: Store) -> None:
    with pytest.raises(StoreError, match="group by one of agent, queue, got 'team'"):
        store.coaching(since=START, until=UNTIL, by="team")
    with pytest.raises(StoreError, match=r"until .* must be after since"):
        store.coaching(since=UNTIL, until=START)
    with pytest.raises(StoreError, match=r"buckets must be within 1\.\.60"):
        store.coaching(since=START, until=UNTIL, buckets=0)


def test_an_empty_period_has_no_groups(tmp_path: Path) -> None:
    with Store.open(tmp_path / "cw.db") as empty:
        report = empty.coaching(since=START, until=UNTIL)
    assert report["groups"] == [] and report["rules"] == [] and report["previous_only"] == []
