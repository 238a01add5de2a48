"""Fixtures shared by the monitor tests: one headless Chromium per test module for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.monitor.dashboard_harness import chromium_browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, started once per module (a failure under CI when missing, else a loud skip)."""
    with chromium_browser() as chromium:
        yield chromium
