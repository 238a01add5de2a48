"""Where the service's CPU goes (py-spy samples by thread and leaf function), and how a recognizer's memory grows."""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

PY_SPY = Path(sys.executable).parent / "py-spy"


@dataclass(slots=True)
class Profile:
    """Shares of py-spy's non-idle samples: by thread group and by leaf function."""

    samples: int = 0
    threads: dict[str, float] = field(default_factory=dict)
    leaves: list[tuple[str, float]] = field(default_factory=list)
    skipped: str = ""


def py_spy_path() -> str | None:
    return str(PY_SPY) if PY_SPY.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiled(pid: int, out: Path, rate: int = 50) -> Iterator[Profile]:
    """Record the process with py-spy while the block runs; the yielded Profile is filled on exit."""
    profile = Profile()
    binary = py_spy_path()
    if binary is None:
        profile.skipped = "py-spy not installed (.venv/bin/pip install py-spy)"
        yield profile
        return
    command = [binary, "record", "-p", str(pid), "-r", str(rate), "--threads", "--format", "raw", "-o", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield profile
    finally:
        spy.send_signal(2)  # py-spy writes its output on SIGINT
        _, err = spy.communicate(timeout=30)
    if not out.exists():
        profile.skipped = f"py-spy recorded nothing: {err.decode(errors='replace')[-200:]}"
        return
    _summarize(out.read_text(), profile)


def _thread_group(first_frame: str) -> str:
    name = re.sub(r"^thread \(\d+\): ", "", first_frame)
    if name.startswith("vosk"):
        return "Vosk decoding threads"
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("callwarden-store"):
        return "SQLite store thread"
    return "other threads (to_thread pool, …)"


def _summarize(raw: str, profile: Profile) -> None:
    threads: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        leaf = re.sub(r" \((.*/)?([^/]+:\d+)\)$", r" (\2)", frames[-1])
        if leaf.startswith(("EpollSelector.select", "_worker (thread.py:81)")):
            continue  # waiting, not working
        threads[_thread_group(frames[0])] += int(count)
        leaves[leaf] += int(count)
    total = sum(threads.values())
    profile.samples = total
    if total:
        profile.threads = {k: v / total for k, v in threads.most_common()}
        profile.leaves = [(k, v / total) for k, v in leaves.most_common(6)]


def recognizer_growth(model: Any, legs: Sequence[bytes], repeats: int = 3) -> list[tuple[float, float]]:
    """(audio seconds decoded, RSS growth MB) of ONE recognizer decoding `legs` `repeats` times, in-process."""
    import vosk

    proc = psutil.Process()
    base = proc.memory_info().rss
    recognizer = vosk.KaldiRecognizer(model, 8000)
    recognizer.SetWords(True)
    points = [(0.0, (proc.memory_info().rss - base) / 1e6)]
    audio = 0.0
    for _ in range(repeats):
        for pcm in legs:
            for offset in range(0, len(pcm), 1600):
                recognizer.AcceptWaveform(pcm[offset : offset + 1600])
            audio += len(pcm) / 16000
        points.append((audio, (proc.memory_info().rss - base) / 1e6))
    return points
