"""A small pool of ready Vosk recognizers, prepared in a thread of its own: a leg swaps one in without waiting."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def new_recognizer(model: Any, rate: int, partial_words: bool = False) -> Any:
    """A first-pass KaldiRecognizer with word times (blocking: ~0.1 s with the small models, whose lookahead graph
    is composed per recognizer)."""
    import vosk

    recognizer = vosk.KaldiRecognizer(model, rate)
    recognizer.SetWords(True)
    recognizer.SetPartialWords(partial_words)
    return recognizer


class RecognizerPool:
    """Up to `size` fresh recognizers per sample rate, made by one background thread and taken by decoding threads.

    `take(rate)` never waits for a recognizer to be built: it hands out a ready one (then asks for a replacement),
    or None when none is ready yet (the caller then builds its own, still off the event loop). Thread-safe.
    """

    def __init__(self, model: Any, size: int = 2, partial_words: bool = False) -> None:
        self.model = model
        self.size = size
        self.partial_words = partial_words
        self.misses = 0  # takes that found no ready recognizer
        self._ready: dict[int, deque[Any]] = {}
        self._pending: dict[int, int] = {}
        self._lock = threading.Lock()
        self._maker = ThreadPoolExecutor(1, thread_name_prefix="vosk-pool")
        self._closed = False

    def take(self, rate: int) -> Any | None:
        with self._lock:
            ready = self._ready.setdefault(rate, deque())
            recognizer = ready.popleft() if ready else None
            if recognizer is None:
                self.misses += 1
            self._refill(rate)
        return recognizer

    def ready(self, rate: int) -> int:
        """Recognizers ready for `rate` now."""
        with self._lock:
            return len(self._ready.get(rate, ()))

    def close(self) -> None:
        """Stop making recognizers (blocks until the one being built is done) and drop the ready ones."""
        with self._lock:
            self._closed = True
        self._maker.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._ready.clear()

    def _refill(self, rate: int) -> None:
        """Under the lock: queue builds until ready + pending reaches `size`."""
        missing = self.size - len(self._ready[rate]) - self._pending.get(rate, 0)
        for _ in range(max(0, missing) if not self._closed else 0):
            self._pending[rate] = self._pending.get(rate, 0) + 1
            self._maker.submit(self._make, rate)

    def _make(self, rate: int) -> None:
        recognizer = new_recognizer(self.model, rate, self.partial_words)
        with self._lock:
            self._pending[rate] -= 1
            if not self._closed:
                self._ready.setdefault(rate, deque()).append(recognizer)
