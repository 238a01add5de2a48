"""The compiled (mypyc) rules engine: its build state is told right, stale builds are refused, and it finds exactly
what the pure Python engine finds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main as cli
from monitor.native import (
    RULES_DIR,
    STAMP_NAME,
    NativeStatus,
    clean,
    compiled_sources,
    loaded_build,
    pure_copy,
    source_digest,
    stale_message,
    status,
)

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter with argv[1] first on sys.path: the rules engine is imported from there.
WORKLOAD = r'''
import hashlib, json, random, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import rules.engine
from bench.engine_mix import realistic_calls
from rules.engine import CallMonitor
from rules.eventlog import loads_events
from rules.packs import load_packs
from rules.transcripts import transcript_events

LINES = {
    "en": ["agent: can I take the card number please",
           "customer: it is four one one one one one one one one one one one one one one one",
           "customer: five five five five five five five five",
           "customer: four four four four", "agent: and the security code on the back",
           "customer: seven three seven", "agent: what month and year does the card expire",
           "customer: oh four twenty seven", "agent: this call may be recorded for quality and training",
           "customer: no I'd rather not", "customer: yes that's fine", "customer: please delete my data",
           "agent: your social security number please", "customer: one two three four five six seven eight nine",
           "agent: this investment is guaranteed to double", "customer: stop recording this call"],
    "it": ["agent: questa chiamata potrebbe essere registrata", "customer: sì va bene",
           "customer: il numero della carta è quattro uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno",
           "agent: mi dice il codice di sicurezza", "customer: sette tre sette",
           "customer: cancellate i miei dati"],
}

def scripted(seed, count, lang):
    rng = random.Random(seed)
    calls = []
    for i in range(count):
        lines = []
        t = 0.0
        for _ in range(rng.randint(6, 14)):
            t += rng.uniform(0.5, 9.0)
            lines.append(f"[{t:.1f}] {rng.choice(LINES[lang])}")
        calls.append(transcript_events(f"n{lang}{seed}-{i}", lines, lang))
    return calls

calls = realistic_calls(60, seed=3) + scripted(1, 80, "en") + scripted(2, 30, "it")
calls.extend(loads_events(open(path).read()) for path in sys.argv[3:])
packs = load_packs()
digest, outcomes = hashlib.sha256(), {}
for call in calls:
    monitor = CallMonitor(packs)
    for event in call:
        for finding in monitor.feed(event):
            outcomes[finding.outcome] = outcomes.get(finding.outcome, 0) + 1
            digest.update(json.dumps(finding.to_json(), sort_keys=True).encode())
    digest.update(json.dumps(monitor.report(), sort_keys=True, default=str).encode())
compiled = rules.engine.__file__.endswith(".so")
print(json.dumps({"file": rules.engine.__file__, "compiled": compiled, "digest": digest.hexdigest(),
                  "calls": len(calls), "outcomes": outcomes}))
'''




def _run_workload(first_on_path: Path) -> dict[str, object]:
    data = REPO / "tests" / "rules" / "data"
    logs = [str(data / "vosk-account-number-call.jsonl"), str(data / "fsdd-digit-pass-call.jsonl")]  # real Vosk
    done = subprocess.run([sys.executable, "-c", WORKLOAD, str(first_on_path), str(REPO), *logs],
                          capture_output=True, text=True, timeout=600, check=False, cwd=first_on_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_compiled_engine_finds_exactly_what_the_pure_engine_finds(tmp_path: Path) -> None:
    if status().state != "compiled":
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the compiled rules engine (./dev builds it): {status().detail}")
        pytest.skip(f"SKIPPED LOUDLY: no compiled rules engine to compare ({status().detail}); "
                    "run `callwarden native build`")
    compiled = _run_workload(REPO)
    pure_copy(tmp_path)
    pure = _run_workload(tmp_path)
    assert compiled["compiled"] is True and str(compiled["file"]).startswith(str(RULES_DIR))
    assert pure["compiled"] is False and str(pure["file"]).startswith(str(tmp_path))
    outcomes = pure["outcomes"]
    assert isinstance(outcomes, dict)
    for outcome in ("pan_detected", "cvv_detected", "consent_given", "consent_refused", "said", "not_said"):
        assert outcomes.get(outcome, 0) > 0, (outcome, outcomes)  # the workload exercises every kind
    assert compiled["calls"] == pure["calls"] == 172
    assert compiled["outcomes"] == pure["outcomes"]
    assert compiled["digest"] == pure["digest"]


def test_this_process_runs_the_build_rules_holds() -> None:
    expected = "compiled" if status().state == "compiled" else "pure"
    assert loaded_build() == expected


def test_status_tells_pure_compiled_and_stale_builds_apart(tmp_path: Path) -> None:
    rules_dir = pure_copy(tmp_path)
    assert status(rules_dir) == NativeStatus("pure", 0, "rules/ runs as pure Python")
    assert rules_dir / "engine.py" in compiled_sources(rules_dir)
    assert not any(p.name == "__init__.py" for p in compiled_sources(rules_dir))
    extension = rules_dir / "kinds" / "consent.cpython-311-x86_64-linux-gnu.so"
    extension.write_bytes(b"\x7fELF")
    assert status(rules_dir).state == "stale"  # no stamp: built by whom, from what?
    (rules_dir / STAMP_NAME).write_text(json.dumps({"digest": source_digest(rules_dir), "mypyc": "9.9"}))
    fresh = status(rules_dir)
    assert fresh.state == "compiled" and fresh.modules == 1 and "mypyc 9.9" in fresh.detail
    engine = rules_dir / "engine.py"
    engine.write_text(engine.read_text() + "\n# an edit after the build\n")
    stale = status(rules_dir)
    assert stale.state == "stale" and "other sources" in stale.detail
    message = stale_message(stale)
    assert "callwarden native build" in message and "callwarden native clean" in message
    assert clean(rules_dir) == 2 and not extension.exists()
    assert status(rules_dir).state == "pure"


def test_cli_refuses_a_stale_build_but_lets_native_fix_it(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    stale = NativeStatus("stale", 3, "compiled modules were built from other sources than rules/ holds")
    monkeypatch.setattr(cli, "native_status", lambda: stale)
    real_build_parser = cli.build_parser

    def only_native(modules: tuple[str, ...] = cli.SUBCOMMAND_MODULES) -> object:
        # importing the other subcommands would import the stale compiled rules/ (maybe incompatible)
        assert tuple(modules) == ("monitor.cli.native",), modules
        return real_build_parser(modules)

    monkeypatch.setattr(cli, "build_parser", only_native)
    assert cli.main(["rules", "check"]) == 2
    err = capsys.readouterr().err
    assert "stale" in err and "callwarden native build" in err and "callwarden native clean" in err
    monkeypatch.setattr("monitor.cli.native.status", lambda: stale)
    assert cli.main(["native", "status"]) == 1  # the native group still runs, to say how to fix it
    assert "callwarden native clean" in capsys.readouterr().err
