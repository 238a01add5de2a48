"""End-to-end tests of the supervisor dashboard (monitor/web/static) in headless Chromium against the fake feed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from tests.monitor import dashboard_scenario as sc
from tests.monitor.dashboard_harness import DashboardHarness, checked_page, demo_calls

pytest.importorskip("playwright.sync_api", reason="SKIPPED LOUDLY: playwright missing; pip install -e '.[dev]'")
from playwright.sync_api import Browser, Locator, Page, expect

DIGIT_RUN = re.compile(r"\d(?:[\s-]*\d){12,}")
SPOKEN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
SPOKEN_RUN = re.compile(rf"\b{SPOKEN_DIGIT}(?:[\s,-]+{SPOKEN_DIGIT}){{12,}}\b", re.IGNORECASE)


@pytest.fixture
def harness() -> Iterator[DashboardHarness]:
    fake = DashboardHarness(demo_calls(time.time()))
    fake.start(0)
    yield fake
    fake.close()


@pytest.fixture
def page(browser: Browser, harness: DashboardHarness) -> Iterator[Page]:
    with checked_page(browser, 1280, 900) as opened:
        yield opened


def open_live(page: Page, harness: DashboardHarness) -> None:
    page.goto(harness.url + "/")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "open")
    deadline = time.monotonic() + 5
    while harness.subscribers() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)


def card(page: Page, call_id: str) -> Locator:
    return page.locator(f'[data-testid="call-card"][data-call-id="{call_id}"]')


def test_call_appears_and_a_partial_is_replaced_by_its_final(page: Page, harness: DashboardHarness) -> None:
    open_live(page, harness)
    harness.publish(sc.call_started("call-1", "alice", "billing", time.time() - 5))
    expect(card(page, "call-1")).to_be_visible()
    expect(card(page, "call-1").get_by_test_id("call-agent")).to_have_text("alice")
    harness.publish(sc.transcript("call-1", "agent", 0, "thank you for", 0.5, 1.4, final=False))
    line = card(page, "call-1").get_by_test_id("transcript-line")
    expect(line).to_have_attribute("data-final", "false")
    expect(line).to_contain_text("thank you for")
    expect(line).to_have_class(re.compile(r"\bpartial\b"))
    harness.publish(sc.transcript("call-1", "agent", 0, "thank you for calling acme bank", 0.5, 2.6))
    expect(line).to_have_attribute("data-final", "true")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("thank you for calling acme bank")
    expect(line).not_to_have_class(re.compile(r"\bpartial\b"))
    harness.publish(sc.transcript("call-1", "customer", 0, "hello", 2.9, 3.3))
    expect(line).to_have_count(2)
    expect(line.nth(1)).to_contain_text("Customer")


def test_an_alert_shows_within_two_seconds_with_its_evidence(page: Page, harness: DashboardHarness) -> None:
    open_live(page, harness)
    script = sc.demo_live_script("call-2", time.time() - 20)
    before_card = [m for m in script if m["type"] != "finding" and m.get("start", 0) <= 16.0]
    harness.publish(*before_card)
    calls = card(page, "call-2")
    expect(calls.get_by_test_id("state-disclosure")).to_have_attribute("data-state", "pending")
    harness.publish(*[m for m in script if m["type"] == "finding" and m["finding"]["severity"] == "info"])
    expect(calls.get_by_test_id("state-disclosure")).to_contain_text("disclosed")
    expect(calls.get_by_test_id("state-consent")).to_contain_text("given")
    expect(calls.get_by_test_id("alert")).to_have_count(0)
    pan = sc.finding_message(sc.demo_findings("call-2")[2], time.time())
    sent = time.monotonic()
    harness.publish(pan)
    alert = page.locator('[data-testid="alert"][data-finding-id="call-2-f3"]')
    alert.wait_for(state="visible", timeout=2000)
    assert time.monotonic() - sent < 2.0
    expect(alert.get_by_test_id("severity")).to_have_text(re.compile("CRITICAL"))
    expect(alert.get_by_test_id("alert-rule")).to_have_text("pci.pan-spoken")
    expect(alert.get_by_test_id("alert-evidence")).to_contain_text(sc.CARD_EVIDENCE)
    expect(alert.get_by_test_id("alert-reason")).to_contain_text("read aloud")
    expect(calls.get_by_test_id("state-card")).to_have_attribute("data-state", "bad")
    alert.get_by_test_id("jump-link").click()
    target = calls.locator('[data-testid="transcript-line"][data-start="16"]')
    expect(target).to_be_focused()
    expect(target).to_have_class(re.compile(r"\bflash\b"))


def test_acknowledging_by_keyboard_sends_ack_and_shows_who(page: Page, harness: DashboardHarness) -> None:
    found = sc.demo_findings("call-3")[3]
    harness.publish(sc.call_started("call-3", "bob", "retention", time.time()), sc.finding_message(found, time.time()))
    open_live(page, harness)
    expect(page.get_by_test_id("signed-in")).to_have_text("Signed in as Dana Supervisor (supervisor)")
    assert page.get_by_test_id("who-am-i").count() == 0  # who acts comes from the login, never a typed name
    button = page.locator('[data-finding-id="call-3-f4"] [data-testid="ack-button"]')
    button.focus()
    page.keyboard.press("Enter")
    ack = harness.wait_for_received(lambda m: m.get("type") == "ack")
    assert ack == {"type": "ack", "finding_id": "call-3-f4"}  # no name: the service takes the signed-in user
    status = page.locator('[data-finding-id="call-3-f4"] [data-testid="ack-status"]')
    expect(status).to_contain_text("Acknowledged by Dana Supervisor at")
    expect(button).to_have_count(0)
    page.reload()
    expect(status).to_contain_text("Acknowledged by Dana Supervisor")


def test_a_refused_acknowledgement_says_why_and_keeps_the_button(page: Page, harness: DashboardHarness) -> None:
    found = sc.demo_findings("call-5")[3]
    harness.publish(sc.call_started("call-5", "bob", "retention", time.time()), sc.finding_message(found, time.time()))
    harness.ack_error = "acknowledge: finding 'call-5-f4' is not stored"
    open_live(page, harness)
    alert = page.locator('[data-finding-id="call-5-f4"]')
    alert.get_by_test_id("ack-button").click()
    expect(alert.locator(".ack-error")).to_have_text(f"Not acknowledged: {harness.ack_error}")
    expect(alert.get_by_test_id("ack-button")).to_be_enabled()
    expect(alert.get_by_test_id("ack-status")).to_have_count(0)


def test_disconnect_is_shown_and_reconnect_takes_the_new_snapshot(page: Page, harness: DashboardHarness) -> None:
    harness.publish(sc.call_started("call-old", "alice", "billing", time.time()))
    open_live(page, harness)
    state = page.get_by_test_id("connection-state")
    expect(card(page, "call-old")).to_be_visible()
    harness.stop()
    expect(state).to_have_attribute("data-state", "down")
    expect(state).to_have_text("disconnected — reconnecting…")
    expect(page.get_by_test_id("connection-banner")).to_be_visible()
    harness.publish({"type": "call_ended", "call_id": "call-old", "reason": "hangup", "ended_wall": time.time(),
                     "report": {}}, sc.call_started("call-new", "bob", "sales", time.time()))
    time.sleep(1.0)
    harness.start()
    expect(state).to_have_attribute("data-state", "open", timeout=4000)
    expect(page.get_by_test_id("connection-banner")).to_be_hidden()
    expect(card(page, "call-new")).to_be_visible()
    expect(card(page, "call-old")).to_have_count(0)


def test_report_shows_score_rules_timeline_and_highlighted_transcript(page: Page, harness: DashboardHarness) -> None:
    page.goto(harness.url + "/#/calls/call-2041")
    expect(page.get_by_test_id("report-score")).to_have_text("0")
    expect(page.get_by_test_id("report-verdict")).to_have_text("AUTO-FAIL")
    items = page.get_by_test_id("report-item")
    expect(items).to_have_count(5)
    expect(page.locator('[data-testid="report-item"][data-rule-id="pci.pan-spoken"]')).to_have_attribute(
        "data-status", "failed")
    expect(page.get_by_test_id("timeline-marker")).to_have_count(4)
    expect(page.get_by_test_id("report-finding")).to_have_count(4)
    flagged = page.locator('[data-testid="report-line"][data-finding-ids~="call-2041-f3"]')
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("[card ••••1111]")
    page.locator('[data-testid="timeline-marker"][data-finding-id="call-2041-f4"]').click()
    expect(page.locator('[data-testid="report-line"][data-start="28.2"]')).to_be_focused()
    export = page.get_by_test_id("export-json")
    expect(export).to_have_attribute("href", "/api/calls/call-2041")
    expect(export).to_have_attribute("download", "callwarden-call-2041.json")
    assert page.request.get(harness.url + "/api/calls/call-2041").json()["report"]["auto_failed"] is True
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_test_id("report-score")).to_be_visible()


def test_unknown_call_report_says_so(page: Page, harness: DashboardHarness) -> None:
    page.goto(harness.url + "/#/calls/nope")
    expect(page.get_by_test_id("report-error")).to_contain_text("404")


def test_history_lists_calls_and_filters_through_the_api(page: Page, harness: DashboardHarness) -> None:
    page.goto(harness.url + "/#/calls")
    rows = page.get_by_test_id("history-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("FAIL")
    page.locator("#f-agent").fill("bob")
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-call-id", "call-2040")
    assert "/api/calls?agent=bob&limit=50&offset=0" in harness.requests
    page.goto(harness.url + f"/#/calls?since={(date.today() - timedelta(days=1)).isoformat()}&severity=critical")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-call-id", "call-2041")
    expect(page.locator("#f-severity")).to_have_value("critical")
    since_queries = [r for r in harness.requests if "since=" in r and "severity=critical" in r]
    assert since_queries, harness.requests
    rows.first.locator("a").click()
    expect(page.get_by_test_id("report-score")).to_have_text("0")


def assert_no_card_digits(page: Page) -> None:
    for text in (page.evaluate("document.body.innerText"), page.content()):
        assert not DIGIT_RUN.search(text), DIGIT_RUN.search(text)
        assert not SPOKEN_RUN.search(text), SPOKEN_RUN.search(text)


def test_no_card_digits_reach_the_page(page: Page, harness: DashboardHarness) -> None:
    open_live(page, harness)
    harness.publish(*sc.demo_live_script("call-5", time.time() - 30))
    # A server redaction bug, simulated: raw digits in a partial and spoken digits in a final.
    harness.publish(sc.transcript("call-5", "customer", 40, "it is 4111 1111 1111 1111", 40.0, 44.0, final=False),
                    sc.transcript("call-5", "customer", 41, "five five five five four four four four four four "
                                  "four four four four four four", 45.0, 52.0))
    expect(card(page, "call-5").get_by_test_id("alert")).to_have_count(2)
    expect(card(page, "call-5")).to_contain_text("[number hidden]")
    assert_no_card_digits(page)
    page.goto(harness.url + "/#/calls/call-2041")
    expect(page.get_by_test_id("report-line")).to_have_count(len(sc.DEMO_LINES))
    assert_no_card_digits(page)


def test_server_strings_are_shown_as_text_never_markup(page: Page, harness: DashboardHarness) -> None:
    evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    harness.publish(sc.call_started("call-<x>", evil, evil, time.time()),
                    sc.transcript("call-<x>", "agent", 0, evil, 0.0, 1.0))
    open_live(page, harness)
    expect(page.get_by_test_id("transcript-line")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert page.locator("main img, main b").count() == 0
    assert page.evaluate("window.__pwned === undefined")


def test_large_text_mode_is_a_remembered_toggle(page: Page, harness: DashboardHarness) -> None:
    open_live(page, harness)
    toggle = page.get_by_test_id("large-toggle")
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.keyboard.press("t")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > size
    page.reload()
    expect(toggle).to_have_attribute("aria-pressed", "true")
