"""Retention of what patients send before a visit: pre-visit answers are
deleted ``PREVISIT_RETENTION_DAYS`` after their appointment
(``booking.previsit``), call-back requests, with the numbers they keep,
``NOTIFICATION_RETENTION_DAYS`` after their window (``booking.callbacks``).
A cron job of the worker, and a periodic pass of the in-process runner."""

from __future__ import annotations

from typing import Any

import structlog

from booking import callbacks, previsit
from notifications.runtime import runtime_of

log = structlog.get_logger(__name__)


async def purge_visit_data(ctx: dict[str, Any]) -> int:
    """Cron (nightly, and every few hours in-process): delete the pre-visit
    answers kept past their retention, a batch at a time, and the call-back
    requests past theirs."""
    runtime = runtime_of(ctx)
    now = runtime.clock()
    deleted = 0
    while True:
        count = await previsit.delete_expired(runtime.db, now, runtime.config.previsit_retention,
                                              batch=runtime.config.batch)
        deleted += count
        if count < runtime.config.batch:
            break
    calls = await callbacks.delete_old(runtime.db, now, runtime.config.retention)
    if deleted or calls:
        log.info("visit_data_deleted", previsit_forms=deleted, callback_requests=calls)
    return deleted + calls
