"""Support for the fault and PCI tests: tmpfs mounts (full / read-only disks), card+CVV calls, leak scanning."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from evaluation.synth import SynthCall, Turn, render_call
from rules.events import Speaker
from tests.monitor.service_harness import AGENT_SPEED, CUSTOMER_SPEED, FSDD_DIR, VOICES

# --- file systems we can fill or make read-only, cleaned up whatever happens ----------------------------------


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "8m", *, read_only: bool = False) -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted at `where` (root only; skips otherwise); unmounted on exit."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("SKIPPED LOUDLY: mounting a tmpfs needs root and mount(8)")
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill_disk(directory: Path) -> Path:
    """Write a filler file in `directory` until the file system is full; returns it (delete it to free space)."""
    filler = directory / "filler.bin"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(block)
        with contextlib.suppress(OSError):  # the last few bytes
            while True:
                f.write(b"\0" * 512)
    return filler


# --- calls with card numbers and security codes ----------------------------------------------------------------

PCI_CASES: tuple[tuple[str, str], ...] = (
    ("5555555555554444", "737"),
    ("378282246310005", "8291"),
    ("6011111111111117", "592"),
)
"""(test card, CVV) pairs: the customer reads both, the agent reads both back."""


@functools.cache
def pci_call(card: str, cvv: str) -> SynthCall:
    """A ~50 s call: disclosure, the customer reads `card` and `cvv`, the agent reads each back (FSDD digits)."""
    a, c = Speaker.AGENT, Speaker.CUSTOMER
    turns = [
        Turn(a, "thank you for calling acme bank. this call may be recorded for quality and training purposes."),
        Turn(c, "hi. i would like to pay my bill with a card please."),
        Turn(a, "sure. please read me the card number."),
        Turn(c, "okay. it is", digits=card, digit_voice="jackson"),
        Turn(a, "let me read that back.", digits=card, digit_voice="lucas"),
        Turn(a, "and what is the security code on the back of the card?"),
        Turn(c, "the code is", digits=cvv, digit_voice="jackson"),
        Turn(a, "thank you. that was", digits=cvv, digit_voice="lucas"),
        Turn(a, "your payment is complete. goodbye."),
    ]
    turns = [replace(t, speed=AGENT_SPEED if t.speaker is a else CUSTOMER_SPEED) for t in turns]
    return render_call(turns, rate=8000, agent_channel=0, voices=VOICES, fsdd_dir=FSDD_DIR)


# --- leak scanning ---------------------------------------------------------------------------------------------

DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_WORD = re.compile(r"[a-z]+|[^a-z\s]+")
PAN_PART_WORDS = 4
"""A run of this many spoken digit words that is part of a card number counts as a leak."""


@dataclass(frozen=True, slots=True)
class Leak:
    """One occurrence of a secret in an output: where, which secret, how (digits/words) and the text around it."""

    where: str
    secret: str
    form: str
    context: str


def written_pattern(secret: str) -> re.Pattern[str]:
    """`secret`'s digits, optionally separated by one space, dash or dot each, standing alone."""
    body = r"[ \-.]?".join(secret)
    return re.compile(rf"(?<![0-9A-Za-z.+/]){body}(?![0-9A-Za-z])")


def spoken_runs(text: str) -> list[tuple[str, int, int]]:
    """Maximal runs of consecutive spoken digit words: (digits, start offset, end offset) in `text` (lower-cased)."""
    runs: list[tuple[str, int, int]] = []
    digits, start, end = "", 0, 0
    for m in _WORD.finditer(text.lower()):
        word = m.group(0)
        if word in DIGIT_WORDS:
            if not digits:
                start = m.start()
            digits += DIGIT_WORDS[word]
            end = m.end()
        elif word.isalpha() or any(ch.isalnum() for ch in word):
            if digits:
                runs.append((digits, start, end))
            digits = ""
    if digits:
        runs.append((digits, start, end))
    return runs


def scan(where: str, text: str, cases: tuple[tuple[str, str], ...]) -> list[Leak]:
    """Every occurrence of a card number or CVV of `cases` in `text`, written or spoken."""
    leaks: list[Leak] = []
    for secret in (s for case in cases for s in case):
        for m in written_pattern(secret).finditer(text):
            leaks.append(Leak(where, secret, "digits", text[max(0, m.start() - 60) : m.end() + 60]))
    for digits, start, end in spoken_runs(text):
        for pan, cvv in cases:
            if _has_common_run(digits, pan, PAN_PART_WORDS) or cvv in digits:
                secret = pan if _has_common_run(digits, pan, PAN_PART_WORDS) else cvv
                leaks.append(Leak(where, secret, "words", text[max(0, start - 60) : end + 60]))
    return leaks


def _has_common_run(digits: str, secret: str, length: int) -> bool:
    return any(digits[i : i + length] in secret for i in range(len(digits) - length + 1))


def scan_bytes(where: str, data: bytes, cases: tuple[tuple[str, str], ...]) -> list[Leak]:
    """`scan` over a binary file's bytes (SQLite pages, WAL): decoded leniently as Latin-1 and as UTF-16-free text."""
    return scan(where, data.decode("latin-1"), cases)
