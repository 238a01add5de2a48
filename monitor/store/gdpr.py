"""GDPR duties of the service: retention cutoffs, the periodic purge task, and the export document of one call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from monitor.config.trust import RetentionConfig
from monitor.store.async_store import AsyncStore
from monitor.store.database import Store
from monitor.store.records import AuditEntry, CallDetail, PurgeCutoffs, detail_json

log = logging.getLogger("callwarden.gdpr")

DAY = 86400.0
EXPORT_FORMAT = "callwarden-export/1"


def purge_cutoffs(retention: RetentionConfig, now: float) -> PurgeCutoffs:
    """Wall-time cutoffs for `now`: a kind with 0 days is kept forever; call rows go once all content kinds went."""

    def cut(days: float) -> float | None:
        return None if days <= 0 else now - days * DAY

    content = (retention.transcripts_days, retention.findings_days, retention.reports_days, retention.consent_days)
    return PurgeCutoffs(
        transcripts=cut(retention.transcripts_days),
        findings=cut(retention.findings_days),
        reports=cut(retention.reports_days),
        consent=cut(retention.consent_days),
        audit=cut(retention.audit_days),
        calls=None if min(content) <= 0 else cut(max(content)),
    )


async def purge_once(store: AsyncStore, retention: RetentionConfig, *, now: float | None = None) -> dict[str, int]:
    """One retention purge (also deletes transcripts of calls whose consent was withdrawn)."""
    return await store.run(Store.purge, purge_cutoffs(retention, time.time() if now is None else now))


async def purge_periodically(store: AsyncStore, retention: RetentionConfig) -> None:
    """Purge at start and then every `retention.purge_interval_seconds`, until cancelled; failures are logged."""
    while True:
        try:
            await purge_once(store, retention)
        except Exception:  # a failed purge must not stop the service; the next run tries again
            log.exception("retention purge failed; retrying in %.0f s", retention.purge_interval_seconds)
        await asyncio.sleep(retention.purge_interval_seconds)


@contextlib.asynccontextmanager
async def retention_task(store: AsyncStore, retention: RetentionConfig) -> AsyncIterator[asyncio.Task[None]]:
    """The periodic purge as a background task for the service's lifetime."""
    task = asyncio.create_task(purge_periodically(store, retention), name="callwarden retention purge")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def export_document(detail: CallDetail, audit: list[AuditEntry], *, now: float | None = None) -> dict[str, Any]:
    """Everything stored about one call as one JSON document (GDPR art. 15/20): data, consent proof, audit trail."""
    return {
        "format": EXPORT_FORMAT,
        "exported_wall": time.time() if now is None else now,
        **detail_json(detail),
        "audit": [dataclasses.asdict(entry) for entry in audit],
        "not_stored": "call audio is never stored; transcripts and evidence are redacted (no card numbers)",
    }
