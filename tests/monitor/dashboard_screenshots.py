"""Screenshots of the dashboard against the fake feed: `.venv/bin/python -m tests.monitor.dashboard_screenshots [DIR]`
(default /tmp/callwarden-screenshots; writes live.png and report.png, plus live-large.png with --large).

docs/screenshots come from the real service instead: CALLWARDEN_SCREENSHOTS=docs/screenshots with
tests/monitor/test_dashboard_e2e.py."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.monitor import dashboard_scenario as sc
from tests.monitor.dashboard_harness import DashboardHarness, demo_calls, launch_chromium


def live_scene(harness: DashboardHarness, now: float) -> None:
    """Two active calls: one that just had a card number read out, one that missed its disclosure."""
    script = sc.demo_live_script("call-8812", now - 31)
    harness.publish(*[m for m in script if m.get("start", 0) < 28 and m.get("audio_time", 0) < 28])
    bob = "call-8813"
    harness.publish(
        sc.call_started(bob, "bob", "retention", now - 17),
        sc.transcript(bob, "agent", 0, "hello you're through to retention my name is bob", 0.6, 3.1),
        sc.transcript(bob, "customer", 0, "hi i want to cancel my broadband contract", 3.8, 6.2),
        sc.transcript(bob, "agent", 1, "i'm sorry to hear that can i ask why", 6.9, 8.8),
        sc.finding_message(sc.finding(bob, f"{bob}-f1", "disclosure.recording", "required_phrase", "not_said", "high",
                                      (0.0, 15.0), "", "recording disclosure not said within 15 s"), now - 2),
        {"type": "clock", "call_id": bob, "audio_time": 16.0},
    )


def partials(harness: DashboardHarness) -> None:
    """Partials arriving after the dashboard connected (the snapshot carries finals only)."""
    harness.publish(
        sc.transcript("call-8812", "customer", 8, "oh sorry the security", 28.2, 29.4, final=False),
        sc.transcript("call-8813", "customer", 1, "it's just too expensive for", 9.4, 11.0, final=False),
    )


def shoot(out: Path, large: bool) -> None:
    harness = DashboardHarness(demo_calls(time.time()))
    harness.start(0)
    try:
        live_scene(harness, time.time())
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page: Page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(harness.url + "/")
            page.get_by_test_id("call-card").first.wait_for()
            partials(harness)
            page.locator('[data-finding-id="call-8813-f1"] [data-testid="ack-button"]').click()
            page.get_by_text("Acknowledged by Dana").wait_for()
            page.mouse.click(1, 890)
            page.screenshot(path=str(out / "live.png"))
            if large:
                page.get_by_test_id("large-toggle").click()
                page.set_viewport_size({"width": 1920, "height": 1080})
                page.screenshot(path=str(out / "live-large.png"))
                page.get_by_test_id("large-toggle").click()
            page.goto(harness.url + "/#/calls/call-2041")
            page.get_by_test_id("report-score").wait_for()
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(out / "report.png"), full_page=True)
            browser.close()
    finally:
        harness.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=Path("/tmp/callwarden-screenshots"))
    parser.add_argument("--large", action="store_true", help="also a 1920×1080 large-text live view")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    shoot(args.out, args.large)
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
