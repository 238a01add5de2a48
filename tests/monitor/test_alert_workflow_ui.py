"""The alert workflow in headless Chromium against the real service with access control: the acting user is the
signed-in one (no "Who am I" box), and acknowledge → note → assign → escalate → resolve each show on every dashboard,
are stored with the call and appear in the audit log. Set CALLWARDEN_SCREENSHOTS=docs/screenshots to refresh
docs/screenshots/alert-workflow.png from this run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.access.users import hash_password
from monitor.config.settings import Config
from monitor.config.trust import AccessConfig
from tests.conftest import free_port
from tests.monitor.live_driver import LiveService
from tests.monitor.test_dashboard_e2e import save_screenshot

pytest.importorskip("playwright.sync_api", reason="SKIPPED LOUDLY: playwright missing; pip install -e '.[dev]'")
from playwright.sync_api import Browser, Page, expect

USERS = {
    "dana": ("supervisor", "dana-secret-1"), "lee": ("supervisor", "lee-secret-1"), "ada": ("admin", "ada-secret-1")
}


@pytest.fixture
def live(tmp_path: Path, vosk_model_path: Path) -> Iterator[LiveService]:
    access = AccessConfig(
        users={name: f"{role}:{hash_password(pw, n=2**10)}" for name, (role, pw) in USERS.items()}, require_auth=True
    )
    config = Config(port=free_port(), data_dir=tmp_path / "data", model_path=str(vosk_model_path),
                    log_level="WARNING", access=access)
    running = LiveService(config)
    running.start()
    yield running
    running.close()


def signed_in_page(browser: Browser, live: LiveService, user: str) -> Page:
    context = browser.new_context(viewport={"width": 1360, "height": 940},
                                  http_credentials={"username": user, "password": USERS[user][1]})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.http + "/")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "open", timeout=10_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_acknowledge_note_resolve_by_the_signed_in_user_is_shown_stored_and_audited(
    browser: Browser, live: LiveService, tmp_path: Path
) -> None:
    dana = signed_in_page(browser, live, "dana")
    lee = signed_in_page(browser, live, "lee")  # a second supervisor's dashboard sees every step live
    expect(dana.get_by_test_id("signed-in")).to_have_text("Signed in as dana (supervisor)")
    assert dana.get_by_test_id("who-am-i").count() == 0  # the free-text box is gone

    live.run(live.open_call("CA-wf-1", "sam", "payments", time.time() - 40))
    finding = live.run(live.raise_finding("CA-wf-1", 1, rule=0, at=21.0))
    alert = dana.locator(f'[data-testid=alert][data-finding-id="{finding.finding_id}"]')
    other = lee.locator(f'[data-testid=alert][data-finding-id="{finding.finding_id}"]')
    expect(alert).to_be_visible(timeout=5_000)

    alert.get_by_test_id("ack-button").click()
    expect(alert.get_by_test_id("ack-status")).to_contain_text("Acknowledged by dana")
    alert.get_by_test_id("wf-note").click()
    alert.locator("[data-testid=workflow-form] [data-testid=wf-note]").fill("customer read the card; calling back")
    alert.get_by_test_id("wf-submit").click()
    expect(alert.get_by_test_id("workflow-history")).to_contain_text("dana noted")
    alert.get_by_test_id("wf-assign").click()
    alert.get_by_test_id("wf-target").fill("lee")
    alert.get_by_test_id("wf-submit").click()
    expect(other.get_by_test_id("alert-assignee")).to_have_text("Assigned: lee")

    other.get_by_test_id("wf-escalate").click()
    other.get_by_test_id("wf-target").fill("compliance")
    other.get_by_test_id("wf-submit").click()
    expect(alert.get_by_test_id("alert-escalated")).to_have_text("▲ Escalated: compliance")
    other.get_by_test_id("wf-resolve").click()
    other.get_by_test_id("wf-reason").select_option("other")
    other.get_by_test_id("wf-submit").click()  # "other" needs a note: the form refuses, nothing is sent
    expect(other.get_by_test_id("alert-resolved")).to_have_count(0)
    other.locator("[data-testid=workflow-form] [data-testid=wf-note]").fill("duplicate of an earlier call")
    other.get_by_test_id("wf-submit").click()
    expect(alert.get_by_test_id("alert-resolved")).to_have_text("✓ Resolved: other")
    expect(alert).to_have_attribute("data-resolved", "true")
    expect(alert.get_by_test_id("wf-reopen")).to_be_visible()
    save_screenshot(dana, tmp_path, "alert-workflow.png")

    detail = live.get_json("/api/calls/CA-wf-1", "ada", USERS["ada"][1])
    assert [a["by"] for a in detail["acknowledgements"]] == ["dana"]
    steps = [(a["action"], a["by"], a["target"], a["reason"]) for a in detail["alert_actions"]]
    assert steps == [("note", "dana", "", ""), ("assign", "dana", "lee", ""), ("escalate", "lee", "compliance", ""),
                     ("resolve", "lee", "", "other")]
    assert detail["alert_actions"][0]["note"] == "customer read the card; calling back"
    audit = live.get_json("/api/audit?call_id=CA-wf-1", "ada", USERS["ada"][1])["entries"]
    trail = [(e["action"], e["actor"], e["role"], e["detail"].get("finding_id")) for e in reversed(audit)
             if e["action"] != "view"]  # ada's read of the call above is audited too
    assert trail == [
        ("ack", "dana", "supervisor", finding.finding_id),
        ("alert_note", "dana", "supervisor", finding.finding_id),
        ("alert_assign", "dana", "supervisor", finding.finding_id),
        ("alert_escalate", "lee", "supervisor", finding.finding_id),
        ("alert_resolve", "lee", "supervisor", finding.finding_id),
    ]
    dana.goto(live.http + "/#/calls/CA-wf-1")  # the stored report carries the alert's history too
    row = dana.locator(f'[data-testid=report-finding][data-finding-id="{finding.finding_id}"]')
    expect(row.get_by_test_id("workflow-entry")).to_have_count(4)
    expect(row.get_by_test_id("alert-resolved")).to_have_text("✓ Resolved: other")
    expect(row).to_contain_text("lee escalated to compliance")
    dana.goto(live.http + "/")  # a dashboard that connects now gets the workflow in the /live snapshot
    expect(alert.get_by_test_id("workflow-entry")).to_have_count(4)
    expect(alert).to_have_attribute("data-resolved", "true")
    for page in (dana, lee):
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        page.context.close()


def test_a_refused_action_says_why_on_that_dashboard_only(browser: Browser, live: LiveService) -> None:
    dana = signed_in_page(browser, live, "dana")
    live.run(live.open_call("CA-wf-2", "kim", "billing", time.time() - 10))
    finding = live.run(live.raise_finding("CA-wf-2", 1, rule=1, at=15.0))
    alert = dana.locator(f'[data-testid=alert][data-finding-id="{finding.finding_id}"]')
    expect(alert).to_be_visible(timeout=5_000)
    spoofed = live.act({"type": "ack", "finding_id": finding.finding_id, "by": "dana"}, "lee", USERS["lee"][1])
    assert (spoofed["type"], spoofed["by"]) == ("acknowledged", "lee")  # the signed-in user, never a sent name
    live.run(live.svc.store.alert_action(finding.finding_id, "resolve", "lee", reason="false_positive"))
    alert.get_by_test_id("wf-resolve").click()  # this page has not heard of lee's resolution (not sent over /live)
    alert.get_by_test_id("wf-reason").select_option("agent_coached")
    alert.get_by_test_id("wf-submit").click()
    expect(alert.get_by_test_id("workflow-error")).to_contain_text("already resolved")
    assert dana.errors == []  # type: ignore[attr-defined]
    dana.context.close()
