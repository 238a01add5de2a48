"""The limit for the live benchmark: raw in-process Vosk decoding of the same legs in parallel threads, full speed."""

from __future__ import annotations

import json
import queue
import resource
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RATE = 8000
CHUNK_BYTES = RATE // 10 * 2  # 0.1 s of s16le, the slice our transcriber feeds Vosk


@dataclass(frozen=True, slots=True)
class RawRun:
    """Legs decoded by `threads` threads at full speed: audio seconds, wall seconds, process CPU seconds."""

    threads: int
    legs: int
    audio_seconds: float
    wall_seconds: float
    cpu_seconds: float

    @property
    def realtime_legs(self) -> float:
        """Real-time legs sustainable: total audio seconds decoded per wall second."""
        return self.audio_seconds / self.wall_seconds

    @property
    def cpu_per_audio_second(self) -> float:
        return self.cpu_seconds / self.audio_seconds


def _decode_leg(model: Any, pcm: bytes) -> None:
    import vosk

    recognizer = vosk.KaldiRecognizer(model, RATE)
    recognizer.SetWords(True)
    for offset in range(0, len(pcm), CHUNK_BYTES):
        if recognizer.AcceptWaveform(pcm[offset : offset + CHUNK_BYTES]):
            json.loads(recognizer.Result())
    json.loads(recognizer.FinalResult())


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raw_vosk(model: Any, legs: Sequence[bytes], threads: int = 2) -> RawRun:
    """Decode every leg (s16le 8 kHz) with its own KaldiRecognizer; `threads` threads take legs from one queue."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for pcm in legs:
        work.put(pcm)

    def worker() -> None:
        while True:
            try:
                pcm = work.get_nowait()
            except queue.Empty:
                return
            _decode_leg(model, pcm)

    pool = [threading.Thread(target=worker, name=f"raw-vosk-{i}") for i in range(threads)]
    cpu0, wall0 = _cpu(), time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    audio = sum(len(pcm) / 2 / RATE for pcm in legs)
    return RawRun(threads, len(legs), audio, wall, cpu)


def recognizer_setup_ms(model: Any, repeats: int = 20) -> float:
    """Median milliseconds to create and configure one KaldiRecognizer (what a new call leg costs up front)."""
    import vosk

    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        recognizer = vosk.KaldiRecognizer(model, RATE)
        recognizer.SetWords(True)
        recognizer.SetPartialWords(False)
        times.append((time.perf_counter() - began) * 1000)
        del recognizer
    return statistics.median(times)
