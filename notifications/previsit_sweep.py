"""The pre-visit forms' retention: answers are deleted
``PREVISIT_RETENTION_DAYS`` after their appointment (``booking.previsit``).
A cron job of the worker, and a periodic pass of the in-process runner."""

from __future__ import annotations

from typing import Any

import structlog

from booking import previsit
from notifications.runtime import runtime_of

log = structlog.get_logger(__name__)


async def purge_previsit_forms(ctx: dict[str, Any]) -> int:
    """Cron (nightly, and every few hours in-process): delete the pre-visit
    answers kept past their retention, a batch at a time."""
    runtime = runtime_of(ctx)
    now = runtime.clock()
    deleted = 0
    while True:
        count = await previsit.delete_expired(runtime.db, now, runtime.config.previsit_retention,
                                              batch=runtime.config.batch)
        deleted += count
        if count < runtime.config.batch:
            break
    if deleted:
        log.info("previsit_forms_deleted", count=deleted)
    return deleted
