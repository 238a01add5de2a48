"""The coaching page in headless Chromium against the real service over a seeded two-week history (the real store,
tests/monitor/coaching_seed.py): per agent and per queue, pass rates with their trend against the week before,
alerts per 100 calls, worst rules, sparklines, the per-rule chart and the CSV export. Set
CALLWARDEN_SCREENSHOTS=docs/screenshots to refresh docs/screenshots/coaching.png from this run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitor.coaching_seed import seed_history
from tests.monitor.dashboard_harness import checked_page
from tests.monitor.live_driver import LiveService, started_live_service
from tests.monitor.test_dashboard_e2e import save_screenshot

pytest.importorskip("playwright.sync_api", reason="SKIPPED LOUDLY: playwright missing; pip install -e '.[dev]'")
from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, vosk_model_path: Path) -> Iterator[LiveService]:
    with started_live_service(tmp_path_factory.mktemp("coaching") / "data", vosk_model_path) as running:
        # the page's default period is the last 7 local days, today included: the seeded "this week" is exactly that
        today = dt.date.today()
        start = time.mktime((today - dt.timedelta(days=6)).timetuple())
        running.run(running.svc.store.run(seed_history, start))
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with checked_page(browser, 1440, 1000) as opened:
        yield opened


def test_coaching_shows_trends_worst_rules_and_exports_csv(page: Page, live: LiveService, tmp_path: Path) -> None:
    page.goto(live.http + "/#/coaching")
    rows = page.get_by_test_id("coaching-row")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.key)") == ["bob", "ann", "(none)"]  # worst first

    bob, ann, nobody = (page.locator(f'[data-testid=coaching-row][data-key="{k}"]') for k in ("bob", "ann", "(none)"))
    expect(bob.get_by_test_id("coaching-pass-rate")).to_have_text("25 %")
    expect(bob.get_by_test_id("coaching-pass-trend")).to_have_text("▼ -75 pts (worse)")
    expect(bob.get_by_test_id("coaching-per-100")).to_have_text("125")
    expect(bob.get_by_test_id("coaching-alert-trend")).to_have_text("▲ +125 per 100 (worse)")
    expect(bob.get_by_test_id("coaching-worst")).to_have_text("disclosure.recording 75 · pci.pan-spoken 50")
    expect(ann.get_by_test_id("coaching-pass-rate")).to_have_text("75 %")
    expect(ann.get_by_test_id("coaching-pass-trend")).to_have_text("▲ +50 pts (better)")
    expect(ann.get_by_test_id("coaching-alert-trend")).to_have_text("▼ -50 per 100 (better)")
    expect(nobody.get_by_test_id("coaching-pass-trend")).to_have_text("no earlier data")
    expect(page.get_by_test_id("coaching-sparkline")).to_have_count(3)
    assert ann.get_by_test_id("coaching-sparkline").locator("circle").count() == 4  # 4 days with scored calls

    chart = page.get_by_test_id("coaching-detail")
    expect(chart.locator('[data-testid=coaching-bar][data-rule="disclosure.recording"]')).to_have_attribute(
        "data-value", "75"
    )
    ann.get_by_role("button", name="ann").click()
    expect(chart).to_contain_text("ann: alerts per 100 calls by rule")
    expect(chart.locator('[data-testid=coaching-bar][data-rule="pci.pan-spoken"]')).to_have_attribute("data-value", "0")
    expect(chart).to_contain_text("0 (before 75)")
    save_screenshot(page, tmp_path, "coaching.png")

    href = page.get_by_test_id("coaching-csv").get_attribute("href")
    assert href and "format=csv" in href
    reply = page.request.get(live.http + href)
    assert reply.ok and reply.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(reply.text())))
    assert [(r["group"], r["rule"]) for r in table] == [
        ("bob", "disclosure.recording"), ("bob", "pci.pan-spoken"),
        ("ann", "disclosure.recording"), ("ann", "pci.pan-spoken"), ("(none)", ""),
    ]
    assert (table[3]["per_100_calls"], table[3]["previous_per_100_calls"], table[3]["pass_rate_change"]) == (
        "0.0", "75.0", "0.5"
    )

    page.get_by_test_id("coaching-by").select_option("queue")
    page.get_by_test_id("coaching-apply").click()
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.key)") == ["payments", "billing", "(none)"]
    assert "by=queue" in page.url
    audit = live.get_json("/api/audit?action=coaching_view")["entries"]
    assert len(audit) >= 3  # JSON per agent, CSV, JSON per queue: each read of the figures is audited


def test_a_period_without_calls_says_so(page: Page, live: LiveService) -> None:
    page.goto(live.http + "/#/coaching?by=agent&since=2001-01-01&until=2001-01-07")
    expect(page.get_by_test_id("coaching-status")).to_have_text("No ended calls from 2001-01-01 to 2001-01-07.")
    expect(page.get_by_test_id("coaching-row")).to_have_count(0)
