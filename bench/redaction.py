"""Benchmark (not a test): utterances per second per core through a call's redaction (rules.redact.Redactor).

Every transcript line of every call passes the Redactor once (monitor/call/redaction.py), partials included, so its
cost is per utterance event. Workload: the worst-case calls of bench/engine.py (every line ends with a number; card
numbers read), expanded into partials every 3 words and finals, plus the same calls with an IBAN or a routing and
account number read in one line of each call. CPU time with time.process_time on one core, pure Python.
`--rules DIR` measures another tree's rules/ (e.g. an older commit from `git archive`), for side-by-side ratios.
Run: .venv/bin/python bench/redaction.py [--calls 200] [--repeat 5] [--rules DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if "--rules" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--rules") + 1])
else:
    sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO))

from rules.events import Event, Utterance  # noqa: E402
from rules.redact import Redactor  # noqa: E402
from rules.transcripts import transcript_events  # noqa: E402

AGENT = [
    "thank you for calling {name} this call may be recorded for quality and training purposes",
    "let me pull up your account {filler} one moment please",
    "can you confirm your date of birth please",
    "and the three digit security code on the back",
    "is there anything else I can help you with today",
]
CUSTOMER = [
    "hi I'm calling about my bill {filler}",
    "my card number is four one one one one one one one one one one one one one one one",
    "I'd like to change my address to {filler} street",
    "one two three",
    "okay thanks {name}",
]
BANK = [
    "customer: my iban is g b eight two w e s t one two three four five six nine eight seven six five four three two",
    "customer: the routing number is zero two one zero zero zero zero two one and the account is one two three four"
    " five six seven eight",
]
FILLERS = ["um", "well", "you know", "actually", "so", "right"]
NAMES = ["Acme", "Maria", "John", "Northwind"]


def calls(seed: int, count: int, bank: bool) -> list[list[Event]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        lines = []
        for turn in range(10):
            pool, who = (AGENT, "agent") if turn % 2 == 0 else (CUSTOMER, "customer")
            text = rng.choice(pool).format(filler=" ".join(rng.sample(FILLERS, 2)), name=rng.choice(NAMES))
            lines.append(f"{who}: {text} {rng.randint(1, 999)}")
        if bank:
            lines.insert(rng.randrange(len(lines)), rng.choice(BANK))
        out.append(transcript_events(f"c{i}", lines, "en"))
    return out


def measure(workload: list[list[Event]]) -> float:
    """Utterance events per CPU second through a fresh Redactor per call."""
    utterances = [[e for e in call if isinstance(e, Utterance)] for call in workload]
    begin = time.process_time()
    for call in utterances:
        redactor = Redactor(lang="en")
        for utterance in call:
            redactor.redact_utterance(utterance)
    return sum(len(c) for c in utterances) / (time.process_time() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rules", type=Path, help="a directory holding another rules/ package to measure")
    args = parser.parse_args()
    result = {}
    for name, bank in (("worst case", False), ("with bank numbers", True)):
        workload = calls(7, args.calls, bank)
        measure(calls(8, args.calls // 4, bank))  # warm-up
        rates = [measure(workload) for _ in range(args.repeat)]
        result[name] = statistics.median(rates)
    import rules.redact as module

    print(json.dumps({"rules": str(Path(module.__file__).parent), **{k: round(v) for k, v in result.items()}}))


if __name__ == "__main__":
    main()
