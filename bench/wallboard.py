"""Dashboard cost with many active calls: the wallboard (#/wallboard, one row per call) versus the card view (#/live,
one card per call), paired in one run.

Run: .venv/bin/python bench/wallboard.py [--calls 200] [--pairs 5] [--rounds 5] [--json out.json]
The real service (monitor.service.Service behind monitor.web.server.Front, real store, real /live hub) runs
in-process; tests/monitor/live_driver.py opens `--calls` calls through its store and live hub and gives a third of
them alerts through `Service.findings`. Each pair opens the wallboard and the card view in fresh headless Chromium
pages, in alternating order, and measures:

- first render: navigation start → every call's row (card) in the DOM (performance.now() in the page, read by a
  MutationObserver installed before the app's scripts);
- per-update cost: the live traffic of `--rounds` rounds, each one clock tick and one partial transcript line per
  call plus findings on 10 % of the calls, published through the service as fast as it goes; the page's
  main-thread busy time (Chrome DevTools Performance.getMetrics TaskDuration) over the burst, divided by the
  messages published, measured once the last finding of the burst is on the page; also how long after the burst
  was published that was ("caught up"), and how often the server cut the page off as a too-slow consumer (its
  /live queue holds 1000 messages; the page then reconnects and takes a fresh snapshot).
Medians over the pairs; the ratio wallboard/cards is computed per pair (side by side), then its median.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from monitor.config.settings import Config  # noqa: E402
from rules.events import Speaker, Utterance, Word  # noqa: E402
from rules.redact import Redacted  # noqa: E402
from streams.models import resolve  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.monitor.dashboard_harness import launch_chromium  # noqa: E402
from tests.monitor.live_driver import LiveService  # noqa: E402

# Installed before the app: when the page first holds `want` rows (or cards), and the last finding id it showed.
RECORDER = r"""
(() => {
  const rec = window.__bench = { firstRender: null, want: 0, selector: "", messages: 0, closes: 0 };
  const Native = window.WebSocket;  // count /live messages received and connections lost (e.g. cut off as too slow)
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", () => { rec.messages += 1; });
      this.addEventListener("close", () => { rec.closes += 1; });
    }
  };
  new MutationObserver(() => {
    if (rec.firstRender === null && rec.want && document.querySelectorAll(rec.selector).length >= rec.want) {
      rec.firstRender = performance.now();
    }
  }).observe(document, { subtree: true, childList: true });
})();
"""
PARTIAL = ("so", "what", "i", "was", "saying")
VIEWS = {"wallboard": ("#/wallboard", "[data-testid=wallboard-row]"), "cards": ("#/live", "[data-testid=call-card]")}


async def open_calls(live: LiveService, count: int) -> None:
    now = time.time()
    for n in range(count):
        call_id = f"CA-bench-{n:03d}"
        await live.open_call(call_id, f"agent-{n % 40:02d}", ("billing", "payments", "support")[n % 3], now - 60 - n)
        await live.clock(call_id, 60.0 + n)
        if n % 3 == 0:
            await live.raise_finding(call_id, 1, rule=n % 4, at=12.0)


async def traffic(live: LiveService, count: int, round_no: int) -> tuple[int, str]:
    """One round of live traffic; returns (messages published, the id of the round's last finding)."""
    sent = 0
    last = ""
    for n in range(count):
        call_id = f"CA-bench-{n:03d}"
        t = 100.0 + round_no * 2
        await live.clock(call_id, t)
        words = tuple(Word(w, t + i * 0.3, t + i * 0.3 + 0.25) for i, w in enumerate(PARTIAL))
        partial = Utterance(call_id=call_id, speaker=Speaker.CUSTOMER, channel=0, index=round_no + 10,
                            text="so what i was saying", words=words, start=words[0].start, end=words[-1].end,
                            final=False)
        await live.svc.transcript(call_id, partial, Redacted("so what i was saying"))
        sent += 2
        if n % 10 == round_no % 10:
            finding = await live.raise_finding(call_id, 100 + round_no, rule=n % 4, at=t)
            last = finding.finding_id
            sent += 1
    return sent, last


def task_seconds(cdp: Any) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["TaskDuration"])


def measure(
    browser: Browser, live: LiveService, view: str, calls: int, rounds: int, round_base: int
) -> dict[str, float]:
    route, selector = VIEWS[view]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.add_init_script(f"Object.assign(window.__bench, {{want: {calls}, selector: {json.dumps(selector)}}});")
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(live.http + "/" + route)
    deadline = time.monotonic() + 60
    while (rendered := page.evaluate("window.__bench.firstRender")) is None:  # (wait_for_function would eval: CSP)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{view}: {calls} rows/cards not rendered within 60 s")
        page.wait_for_timeout(20)
    first = rendered / 1000
    page.wait_for_timeout(500)  # let the initial layout settle
    before = task_seconds(cdp)
    received_before, closes_before = page.evaluate("[window.__bench.messages, window.__bench.closes]")
    messages = 0
    last = ""
    for r in range(rounds):
        sent, last = live.run(traffic(live, calls, round_base + r))
        messages += sent
    shown = (f'[data-testid=alert][data-finding-id="{last}"]' if view == "cards"
             else f'[data-testid=wallboard-row][data-latest="{last}"]')
    began = time.monotonic()
    page.wait_for_selector(shown, state="attached", timeout=180_000)
    caught_up = time.monotonic() - began
    page.wait_for_timeout(300)  # the frame that applies the burst's last changes
    busy = task_seconds(cdp) - before
    received, closes = page.evaluate("[window.__bench.messages, window.__bench.closes]")
    context.close()
    return {"first_render_s": first, "per_update_ms": busy / messages * 1000, "messages": messages, "busy_s": busy,
            "received": received - received_before, "disconnects": closes - closes_before,
            "caught_up_after_publish_s": caught_up}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(port=free_port(), data_dir=Path(tmp) / "data", model_path=str(resolve("en-us", fetch=False)),
                        log_level="ERROR")
        live = LiveService(config)
        live.start()
        try:
            live.run(open_calls(live, args.calls), timeout=300)
            results: list[dict[str, Any]] = []
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                for pair in range(args.pairs):
                    order = ("wallboard", "cards") if pair % 2 == 0 else ("cards", "wallboard")
                    row: dict[str, Any] = {}
                    for i, view in enumerate(order):
                        row[view] = measure(browser, live, view, args.calls, args.rounds, (pair * 2 + i) * args.rounds)
                    results.append(row)
                    print(f"pair {pair + 1}: " + "  ".join(
                        f"{v}: first render {row[v]['first_render_s'] * 1000:.0f} ms, "
                        f"{row[v]['per_update_ms']:.3f} ms/update, caught up "
                        f"{row[v]['caught_up_after_publish_s']:.1f} s after the burst was published, "
                        f"{row[v]['disconnects']} disconnects" for v in VIEWS), flush=True)
                browser.close()
        finally:
            live.close()
    summary: dict[str, Any] = {"calls": args.calls, "pairs": args.pairs, "rounds": args.rounds,
                               "loadavg_before": load, "loadavg_after": os.getloadavg()}
    for view in VIEWS:
        summary[view] = {k: statistics.median(r[view][k] for r in results)
                         for k in ("first_render_s", "per_update_ms", "caught_up_after_publish_s")}
        summary[view]["disconnects_total"] = sum(r[view]["disconnects"] for r in results)
    summary["ratio_first_render"] = statistics.median(
        r["wallboard"]["first_render_s"] / r["cards"]["first_render_s"] for r in results)
    summary["ratio_per_update"] = statistics.median(
        r["wallboard"]["per_update_ms"] / r["cards"]["per_update_ms"] for r in results)
    summary["messages_per_burst"] = results[0]["wallboard"]["messages"]
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "pairs": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
