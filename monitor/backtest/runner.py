"""A backtest run: stored calls read through the store, re-scored across worker processes, diffed against their
stored outcomes (per rule: newly failing, newly passing, other changes, unchanged; the calls behind each)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.backtest.rescore import ABSENT, Rescored, StoredCall, rescore_all, statuses
from monitor.store.database import Store
from rules.pack_nodes import PackProblem
from rules.packs import PackError, RuleSet, load_packs

BATCH = 32
"""Calls per task handed to a worker process (large enough that pickling and scheduling stay small)."""


@dataclass(frozen=True, slots=True)
class PackSource:
    """Where the candidate rules come from; a worker process rebuilds the rule set from it (packs are files).

    The service's packs — built-in (unless `builtin` is false), the opt-in packs named in `optional` (its `packs`
    setting) and those in `base_dirs` — with every pack of `rules_dir` replacing the pack of the same id or added
    when its id is new: copy a pack into a directory, change it, and the backtest runs the service's packs with
    that one changed."""

    rules_dir: Path | None = None
    builtin: bool = True
    optional: tuple[str, ...] = ()
    base_dirs: tuple[Path, ...] = ()
    """The service's own extra pack directories (its `rules_dirs` setting), part of the base set."""


def candidate_ruleset(source: PackSource) -> RuleSet:
    """The candidate rule set (PackError lists every problem, a rule id in two packs included)."""
    base = load_packs(source.base_dirs, builtin=source.builtin, optional=source.optional)
    if source.rules_dir is None:
        return base
    overlay = load_packs([source.rules_dir], builtin=False)
    replacing = {pack.id: pack for pack in overlay.packs}
    kept = [replacing.pop(pack.id, pack) for pack in base.packs]
    packs = (*kept, *replacing.values())
    seen: dict[str, str] = {}
    problems = []
    for pack in packs:
        for rule in pack.rules:
            if rule.id in seen and seen[rule.id] != pack.source:
                problems.append(PackProblem(pack.source, 0, f"rules[{rule.id}]", f"rule id also in {seen[rule.id]}"))
            seen.setdefault(rule.id, pack.source)
    if problems:
        raise PackError(problems)
    return RuleSet(packs)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which stored calls to re-score: started in [since, until) (epoch seconds), of one queue or agent."""

    since: float | None = None
    until: float | None = None
    queue: str | None = None
    agent: str | None = None


def stored_calls(store: Store, selection: Selection) -> tuple[list[StoredCall], dict[str, list[str]]]:
    """The selected ended calls that can be backtested, and those skipped by reason (no event log, no report)."""
    calls: list[StoredCall] = []
    skipped: dict[str, list[str]] = {}
    for call_id in store.ended_call_ids(since=selection.since, until=selection.until, agent=selection.agent):
        summary = store.get_call_summary(call_id)
        if summary is None:  # erased meanwhile
            continue
        queue = summary.metadata.get("queue", "")
        if selection.queue is not None and queue != selection.queue:
            continue
        report = store.get_report(call_id)
        lines = store.event_log(call_id)
        reason = "no_report" if report is None else "no_event_log" if lines is None else None
        if reason is not None:
            skipped.setdefault(reason, []).append(call_id)
            continue
        assert report is not None and lines is not None
        calls.append(
            StoredCall(
                call_id, summary.language, summary.started_wall, summary.agent or "", queue, report, tuple(lines)
            )
        )
    return calls, skipped


_WORKER_RULES: RuleSet | None = None


def _init_worker(source: PackSource) -> None:
    global _WORKER_RULES
    _WORKER_RULES = candidate_ruleset(source)


def _rescore_batch(calls: Sequence[StoredCall]) -> list[Rescored]:
    assert _WORKER_RULES is not None, "worker not initialized"
    return rescore_all(calls, _WORKER_RULES)


def _batches(calls: Sequence[StoredCall], size: int) -> Iterator[Sequence[StoredCall]]:
    for start in range(0, len(calls), size):
        yield calls[start : start + size]


def rescore_calls(
    calls: Sequence[StoredCall],
    source: PackSource,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Rescored]:
    """Every call re-scored with the candidate rules, in order: in this process (workers=1) or across `workers`
    processes taking batches of BATCH calls. Where the platform forks (Linux), the workers are forked from this
    process with the rule set already loaded (a spawned worker spends seconds importing and compiling the packs:
    measured 3× slower than one process on 460 calls); elsewhere they are spawned and each loads the packs once.
    Call it from a process without threads of its own (the CLI), as forking requires."""
    if workers <= 1:
        ruleset = candidate_ruleset(source)
        out = []
        for batch in _batches(calls, BATCH):
            out += rescore_all(batch, ruleset)
            if progress is not None:
                progress(len(out))
        return out
    global _WORKER_RULES
    out = []
    if "fork" in multiprocessing.get_all_start_methods():
        _WORKER_RULES = candidate_ruleset(source)  # inherited by the forked workers
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    else:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(source,))
    with pool:
        for done in pool.map(_rescore_batch, _batches(calls, BATCH)):
            out += done
            if progress is not None:
                progress(len(out))
    return out


def diff(
    calls: Sequence[StoredCall], rescored: Sequence[Rescored], ruleset: RuleSet
) -> dict[str, Any]:
    """The JSON diff of rescored outcomes against the stored ones (shape in docs/backtest.md)."""
    rules: dict[str, dict[str, Any]] = {}
    changed: set[str] = set()
    newly_failing_calls, newly_passing_calls, score_changes = [], [], []
    carried_rules: set[str] = set()
    uncomputable_rules: set[str] = set()
    candidate_ids = [spec.id for spec in ruleset.rules]
    for call, outcome in zip(calls, rescored, strict=True):
        before = statuses(call.report)
        carried_rules.update(outcome.carried)
        uncomputable_rules.update(outcome.uncomputable)
        for rule_id in [*candidate_ids, *(r for r in before if r not in outcome.statuses)]:
            entry = rules.setdefault(
                rule_id,
                {"newly_failing": [], "newly_passing": [], "other_changes": [], "unchanged": 0, "carried": False},
            )
            old, new = before.get(rule_id, ABSENT), outcome.statuses.get(rule_id, ABSENT)
            if old == new:
                entry["unchanged"] += 1
                continue
            changed.add(call.call_id)
            if new == "failed":
                entry["newly_failing"].append(call.call_id)
            elif old == "failed":
                entry["newly_passing"].append(call.call_id)
            else:
                entry["other_changes"].append({"call_id": call.call_id, "from": old, "to": new})
        old_passed, old_score = call.report.get("passed"), call.report.get("score")
        if old_passed != outcome.passed:
            changed.add(call.call_id)
            if outcome.passed is False:
                newly_failing_calls.append(call.call_id)
            elif old_passed is False:
                newly_passing_calls.append(call.call_id)
        if old_score != outcome.score:
            changed.add(call.call_id)
            score_changes.append({"call_id": call.call_id, "from": old_score, "to": outcome.score})
    for rule_id in carried_rules:
        rules[rule_id]["carried"] = True
    order = {rule_id: i for i, rule_id in enumerate(candidate_ids)}
    return {
        "calls": len(calls),
        "changed_calls": sorted(changed),
        "calls_newly_failing": newly_failing_calls,
        "calls_newly_passing": newly_passing_calls,
        "score_changes": score_changes,
        "rules": dict(sorted(rules.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))),
        "carried_rules": sorted(carried_rules),
        "uncomputable_rules": sorted(uncomputable_rules),
        "candidate_packs": [{"id": pack.id, "version": pack.version} for pack in ruleset.packs],
    }


def backtest(
    store: Store, source: PackSource, selection: Selection, workers: int = 1
) -> dict[str, Any]:
    """Read, re-score and diff the selected calls; the JSON result with timing (`rescore_seconds` is the
    re-scoring alone, `calls_per_second` its rate over all workers)."""
    ruleset = candidate_ruleset(source)  # fails here, before any call is read, on a bad pack
    started = time.perf_counter()
    calls, skipped = stored_calls(store, selection)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rescored = rescore_calls(calls, source, workers)
    seconds = time.perf_counter() - started
    result = diff(calls, rescored, ruleset)
    result["skipped"] = skipped
    result["workers"] = workers
    result["read_seconds"] = round(read_seconds, 3)
    result["rescore_seconds"] = round(seconds, 3)
    result["calls_per_second"] = round(len(calls) / seconds, 1) if seconds > 0 and calls else None
    return result


def markdown(result: dict[str, Any]) -> str:
    """The diff as a Markdown document (the calls behind each change named)."""
    changed = result["changed_calls"]
    lines = [
        "# Backtest",
        "",
        f"{result['calls']} calls re-scored with "
        + ", ".join(f"{p['id']} {p['version']}" for p in result["candidate_packs"])
        + f"; **{len(changed)} changed**.",
        "",
    ]
    if result["carried_rules"]:
        lines += [
            "Carried over from the original run (digit rules: stored event logs hold no card or CVV digits): "
            + ", ".join(f"`{r}`" for r in result["carried_rules"]) + ".",
            "",
        ]
    if result["uncomputable_rules"]:
        lines += [
            "**Not recomputable** (new digit rules, no stored verdict; shown as replayed without digits): "
            + ", ".join(f"`{r}`" for r in result["uncomputable_rules"]) + ".",
            "",
        ]
    for title, key in (("Calls newly failing", "calls_newly_failing"), ("Calls newly passing", "calls_newly_passing")):
        if result[key]:
            lines += [f"{title}: " + ", ".join(f"`{c}`" for c in result[key]), ""]
    lines += ["| rule | newly failing | newly passing | other changes | unchanged |", "|---|---|---|---|---|"]
    for rule_id, entry in result["rules"].items():
        mark = " (carried)" if entry["carried"] else ""
        cells = [
            _calls(entry["newly_failing"]),
            _calls(entry["newly_passing"]),
            _calls([f"{c['call_id']} ({c['from']} → {c['to']})" for c in entry["other_changes"]]),
            str(entry["unchanged"]),
        ]
        lines.append(f"| `{rule_id}`{mark} | " + " | ".join(cells) + " |")
    if result["score_changes"]:
        lines += ["", "| call | score before | score after |", "|---|---|---|"]
        lines += [f"| `{c['call_id']}` | {c['from']} | {c['to']} |" for c in result["score_changes"]]
    skipped = result.get("skipped") or {}
    if skipped:
        reasons = [f"{len(ids)} {reason.replace('_', ' ')}" for reason, ids in skipped.items()]
        lines += ["", "Skipped: " + "; ".join(reasons)]
    return "\n".join(lines) + "\n"


def _calls(ids: Sequence[str]) -> str:
    return ", ".join(f"`{c}`" for c in ids) if ids else "–"
