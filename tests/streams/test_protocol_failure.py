"""A bug inside a protocol core costs one connection (1011) and is kept, traceback included, for the socket layer."""

from __future__ import annotations

import traceback

from streams.protocols.base import INTERNAL_ERROR, Close, ProtocolCore


class Buggy(ProtocolCore):
    protocol = "buggy"

    def _on_text(self, text: str) -> list[object]:  # type: ignore[override]
        return [1 / len(text.strip())]


def test_a_bug_closes_with_1011_and_keeps_its_exception() -> None:
    core = Buggy()
    assert core.failure is None
    outputs = core.receive_text("   ")
    assert outputs == [Close(INTERNAL_ERROR, "internal error (ZeroDivisionError)")]
    assert isinstance(core.failure, ZeroDivisionError)
    frames = traceback.extract_tb(core.failure.__traceback__)
    assert any(frame.name == "_on_text" for frame in frames)
    assert core.receive_text("more") == []
