"""Benchmark (not a test): utterance events per second per core through CallMonitor with all packs loaded.

Two workloads:
- "worst case": calls scripted from a varied pool of agent/customer lines (random fillers and names, so text
  caches see realistic misses), every line ending with a number, expanded into partials every 3 words + finals
  + 1 s AudioTicks (rules/transcripts.py).
- "realistic mix": the synthesized corpus's calls streamed as Vosk does (bench/engine_mix.py): ~8 % of turns
  hold a number, most events are partials extending the previous one.
Each row is measured after a warm-up pass over other calls of the same workload (another seed), so the bounded
text caches are in a steady state whatever row ran before. CPU time is measured with time.process_time on one
core. The engine runs as built in rules/: compiled by mypyc when `callwarden native build` ran (the header says
which), else pure Python. `--pure` runs a pure copy of rules/; `--compare N` runs both N times, alternating, each in
its own process, and reports medians and the median of the paired ratios (compiled / pure).
Run: .venv/bin/python bench/engine.py [--calls N] [--pure | --compare N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PURE_RULES = os.environ.get("CALLWARDEN_BENCH_PURE_RULES", "")
"""Set by --pure/--compare for the child process: a directory holding a copy of rules/ without extensions."""
sys.path.insert(0, str(REPO))
if PURE_RULES:
    sys.path.insert(0, PURE_RULES)

import rules.engine  # noqa: E402
from bench.engine_mix import realistic_calls  # noqa: E402
from monitor.native import loaded_build, pure_copy  # noqa: E402
from rules.engine import CallMonitor  # noqa: E402
from rules.events import Event, Utterance  # noqa: E402
from rules.packs import RuleSet, load_packs  # noqa: E402
from rules.transcripts import transcript_events  # noqa: E402

AGENT = [
    "thank you for calling {name} this call may be recorded for quality and training purposes",
    "good morning my name is {name} how can I help you today",
    "do you consent to being recorded",
    "let me pull up your account {filler} one moment please",
    "I can see the payment from {filler} went through on Monday",
    "this fund has historically performed well but returns are not guaranteed",
    "is there anything else I can help you with today",
    "I will transfer you to the billing team {filler}",
    "can you confirm your date of birth please",
    "we can set up a payment plan that works for you",
]
CUSTOMER = [
    "yes that's fine",
    "hi I'm calling about my bill {filler}",
    "I'd like to change my address to {filler} street",
    "no problem go ahead",
    "my card number is four one one one one one one one one one one one one one one one",
    "what data do you hold about me",
    "okay thanks {name}",
    "I was charged twice last month {filler}",
    "sure no worries",
    "can you send me the details by email",
]
FILLERS = ["um", "well", "you know", "actually", "so", "right", "er", "like", "basically", "anyway"]
NAMES = ["Acme", "Maria", "John", "Northwind", "Giulia", "Sam", "Contoso", "Ahmed", "Lucia", "Tom"]


def scripted_call(rng: random.Random, call_id: str, turns: int) -> list[Event]:
    lines = []
    for turn in range(turns):
        pool, who = (AGENT, "agent") if turn % 2 == 0 else (CUSTOMER, "customer")
        text = rng.choice(pool).format(filler=" ".join(rng.sample(FILLERS, 2)), name=rng.choice(NAMES))
        lines.append(f"{who}: {text} {rng.choice(FILLERS)} {rng.randint(1, 999)}")
    return transcript_events(call_id, lines, "en")


def measure(ruleset: RuleSet, calls: list[list[Event]]) -> tuple[int, int, float]:
    """(utterance events, all events, CPU seconds) to run every call through a fresh CallMonitor."""
    utterances = sum(1 for call in calls for e in call if isinstance(e, Utterance))
    total = sum(len(call) for call in calls)
    begin = time.process_time()
    for call in calls:
        monitor = CallMonitor(ruleset)
        for event in call:
            monitor.feed(event)
        monitor.report()
    return utterances, total, time.process_time() - begin


def run_rows(args: argparse.Namespace) -> list[tuple[str, int, int, int, float]]:
    """(row name, rules, utterance events, all events, CPU seconds) for each workload × rule set."""
    rng = random.Random(7)
    workloads = {
        "worst case": [scripted_call(rng, f"bench-{i}", args.turns) for i in range(args.calls)],
        "realistic mix": realistic_calls(args.mix_calls),
    }
    warm_rng = random.Random(99)
    warm_ups = {
        "worst case": [scripted_call(warm_rng, f"warm-{i}", args.turns) for i in range(20)],
        "realistic mix": realistic_calls(36, seed=99),
    }
    full = load_packs()
    phrase_packs = RuleSet(tuple(p for p in full.packs if p.id != "pci"))
    rows = []
    for workload, calls in workloads.items():
        for label, ruleset in (("all packs", full), ("all packs except pci", phrase_packs)):
            measure(ruleset, warm_ups[workload])
            utterances, total, seconds = measure(ruleset, calls)
            rows.append((f"{workload}, {label}", len(ruleset.rules), utterances, total, seconds))
    return rows


def child(args: argparse.Namespace, pure_rules: Path | None) -> list[tuple[str, int, int, int, float]]:
    """The rows of `run_rows` from a fresh process (pure when `pure_rules` holds a copy of rules/)."""
    env = {**os.environ, "CALLWARDEN_BENCH_PURE_RULES": str(pure_rules) if pure_rules else ""}
    command = [sys.executable, __file__, "--json", "--calls", str(args.calls), "--turns", str(args.turns),
               "--mix-calls", str(args.mix_calls)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return [(str(n), int(r), int(u), int(t), float(s)) for n, r, u, t, s in json.loads(done.stdout)]


def compare(args: argparse.Namespace, pure_copy: Path) -> None:
    """Alternate pure and compiled runs; medians per row and the median of the paired ratios."""
    pure_rates: dict[str, list[float]] = {}
    compiled_rates: dict[str, list[float]] = {}
    for _ in range(args.compare):
        for rates, copy in ((pure_rates, pure_copy), (compiled_rates, None)):
            for name, _rules, utterances, _total, seconds in child(args, copy):
                rates.setdefault(name, []).append(utterances / seconds)
    print(f"{args.compare} runs of each, alternating (pure, compiled); utterance events per CPU second")
    print(f"{'workload, rules loaded':<40}{'pure':>10}{'compiled':>10}{'ratio':>8}  paired ratios")
    for name, pure in pure_rates.items():
        compiled = compiled_rates[name]
        ratios = [c / p for c, p in zip(compiled, pure, strict=True)]
        listed = " ".join(f"{r:.2f}" for r in ratios)
        print(f"{name:<40}{statistics.median(pure):>10.0f}{statistics.median(compiled):>10.0f}"
              f"{statistics.median(ratios):>8.2f}  {listed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--mix-calls", type=int, default=360, help="calls of the realistic mix")
    parser.add_argument("--pure", action="store_true", help="run a pure Python copy of rules/ (no extensions)")
    parser.add_argument("--compare", type=int, default=0, metavar="N", help="N alternating pure/compiled runs")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if (args.pure or args.compare) and not PURE_RULES:
        with tempfile.TemporaryDirectory(prefix="bench-pure-") as scratch:
            pure_copy(Path(scratch))
            if args.compare:
                compare(args, Path(scratch))
                return
            env = {**os.environ, "CALLWARDEN_BENCH_PURE_RULES": scratch}
            argv = [a for a in sys.argv[1:] if a != "--pure"]
            sys.exit(subprocess.run([sys.executable, __file__, *argv], env=env, check=False).returncode)
    rows = run_rows(args)
    if args.json:
        print(json.dumps([list(row) for row in rows]))
        return
    print(f"engine: {loaded_build()} ({Path(rules.engine.__file__ or '?').parent})")
    print(f"{'workload, rules loaded':<40}{'rules':>6}{'utt events':>12}{'all events':>12}{'cpu s':>8}{'utt ev/s':>11}")
    for name, rule_count, utterances, total, seconds in rows:
        rate = utterances / seconds if seconds else float("inf")
        print(f"{name:<40}{rule_count:>6}{utterances:>12}{total:>12}{seconds:>8.2f}{rate:>11.0f}")


if __name__ == "__main__":
    main()
