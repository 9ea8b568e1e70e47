"""The in-process runner: without ``REDIS_URL``, ``tanntid serve`` runs the
same job functions in a background task of the web process, driven by the
outbox (the database), so the embedded default loses nothing either.

* After a booking commits, the outbox's dispatcher wakes the runner with the
  ids that are due now; otherwise it polls every ``poll_interval`` seconds.
* Each pass runs ``enqueue_due`` (which hands due rows and unapplied receipts
  to this runner instead of arq), delivers them a few at a time, and now and
  then runs the sweeper, the 72-hour timeout and the retention purge.
* At start it takes every due row, whatever the previous process had queued.
* Several web processes may each run one: the jobs' leases and
  compare-and-swap updates keep a row from being handed over twice.

Start it from the app's lifespan (``start``/``stop``); ``run_once`` is for tests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog

from core.settings import NotificationSettings
from notifications import escalation, jobs, outbox, previsit_sweep, refill, sweeps
from notifications.runtime import Runtime

log = structlog.get_logger(__name__)


class InProcessRunner:
    def __init__(self, runtime: Runtime, *, poll_interval: float = 1.0, concurrency: int = 8,
                 sweep_every: float = 300.0, timeout_every: float = 1800.0,
                 purge_every: float = 6 * 3600.0, seal_every: float = 10.0,
                 refill_every: float = 5.0) -> None:
        self.runtime = runtime
        runtime.queue = self
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self._every = {"sweep": sweep_every, "timeout": timeout_every, "purge": purge_every,
                       "seal": seal_every, "previsit": purge_every, "refill": refill_every,
                       "escalate": 60.0}
        self._last: dict[str, float] = {}
        # Per process by design: ids to look at next, not the work itself (the
        # outbox rows are); lost on exit, found again by the next pass anywhere.
        self._deliveries: dict[int, None] = {}
        self._receipts: dict[int, None] = {}
        self._replies: dict[int, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._previous_dispatcher: outbox.Dispatcher | None = None
        self.ctx: dict[str, Any] = {"runtime": runtime}

    # -- JobQueue ------------------------------------------------------------

    async def enqueue_deliveries(self, items: Sequence[tuple[int, int]]) -> int:
        before = len(self._deliveries)
        self._deliveries.update((nid, None) for nid, _ in items)
        return len(self._deliveries) - before

    async def enqueue_receipts(self, receipt_ids: Sequence[int]) -> int:
        before = len(self._receipts)
        self._receipts.update((rid, None) for rid in receipt_ids)
        if len(self._receipts) > before:
            self._wake.set()
        return len(self._receipts) - before

    async def enqueue_replies(self, inbound_ids: Sequence[int]) -> int:
        before = len(self._replies)
        self._replies.update((iid, None) for iid in inbound_ids)
        if len(self._replies) > before:
            self._wake.set()
        return len(self._replies) - before

    # -- waking --------------------------------------------------------------

    def dispatch(self, notification_ids: Sequence[int]) -> None:
        """The outbox's :data:`~notifications.outbox.Dispatcher`: go now."""
        self._deliveries.update((nid, None) for nid in notification_ids)
        self._wake.set()

    # -- running -------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping = False
        self._event_loop = asyncio.get_running_loop()
        self._previous_dispatcher = outbox.set_dispatcher(self.dispatch)
        self._task = asyncio.create_task(self._loop(), name="notification-runner")
        log.info("notification_runner_started")

    def stop_claiming(self) -> None:
        """The process is shutting down: finish the pass under way, then take
        no more work (another process, or this one's successor at start, takes
        what is left from the outbox). Safe from a signal handler."""
        self._stopping = True
        if self._event_loop is not None and not self._event_loop.is_closed():
            self._event_loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, grace: float = 10.0) -> None:
        if self._task is None:
            return
        self._stopping = True
        outbox.set_dispatcher(self._previous_dispatcher)
        self._wake.set()
        try:
            await asyncio.wait_for(self._task, grace)
        except TimeoutError:
            # In-flight hand-overs are cancelled; they are reconciled later.
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None
        log.info("notification_runner_stopped")

    async def _loop(self) -> None:
        await self._guard("queue_all_due", lambda: sweeps.queue_all_due(self.runtime))
        while not self._stopping:
            await self.run_once()
            if self._stopping:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self) -> int:
        """One pass: find due work, do it. Returns how many deliveries ran."""
        self._wake.clear()
        await self._guard("enqueue_due", lambda: sweeps.enqueue_due(self.ctx))
        now = time.monotonic()
        periodic: list[tuple[str, Callable[[dict[str, Any]], Awaitable[int]]]] = [
            ("sweep", sweeps.sweep_stuck_created), ("timeout", sweeps.timeout_in_flight),
            ("purge", sweeps.purge_after_retention), ("seal", sweeps.seal_audit),
            ("previsit", previsit_sweep.purge_visit_data), ("refill", refill.refill_job),
            ("escalate", escalation.escalate)]
        for name, job in periodic:
            if now - self._last.get(name, -1e18) >= self._every[name]:
                self._last[name] = now
                await self._guard(name, lambda job=job: job(self.ctx))  # type: ignore[misc]
        receipts, self._receipts = list(self._receipts), {}
        for receipt_id in receipts:
            await self._guard("apply_receipt", lambda r=receipt_id: jobs.apply_receipt(
                self.ctx, r))  # type: ignore[misc]
        replies, self._replies = list(self._replies), {}
        for inbound_id in replies:
            await self._guard("handle_reply", lambda i=inbound_id: jobs.handle_reply(
                self.ctx, i))  # type: ignore[misc]
        deliveries, self._deliveries = list(self._deliveries), {}
        semaphore = asyncio.Semaphore(self.concurrency)

        async def deliver(batch: list[int]) -> None:
            async with semaphore:
                await self._guard("deliver", lambda: jobs.deliver_batch(self.ctx, batch))

        await asyncio.gather(*(deliver(batch) for batch in jobs.batched(deliveries)))
        return len(deliveries)

    async def _guard(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one job; a failure is logged and the loop goes on (the database
        still holds the work, so the next pass or the sweeper retries it)."""
        try:
            with structlog.contextvars.bound_contextvars(
                    correlation_id=f"job-{name}-{uuid.uuid4().hex[:12]}"):
                return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("notification_runner_job_failed", job=name, error=type(exc).__name__,
                      exc_info=True)
            return None


@asynccontextmanager
async def notifications_in_web_process(app: Any, settings: NotificationSettings, *,
                                       clock: Callable[[], datetime] | None = None
                                       ) -> AsyncIterator[None]:
    """For ``create_app``'s lifespan. With ``REDIS_URL``: new rows and
    receipts are queued on arq right away (the ``tanntid worker`` processes do
    the work). Without: the in-process runner does it, on the app's database.
    Sets ``app.state.notification_queue`` (the webhooks nudge it)."""
    if settings.redis_url:
        from arq.connections import ArqRedis

        from notifications.worker import ArqQueue, arq_dispatcher

        # No connection at start: a Redis that is down must not stop the web.
        redis = ArqRedis.from_url(settings.redis_url)
        queue = ArqQueue(redis, queue_name=settings.notification_queue)
        previous = outbox.set_dispatcher(arq_dispatcher(queue))
        app.state.notification_queue = queue
        try:
            yield
        finally:
            outbox.set_dispatcher(previous)
            await redis.aclose()
        return
    from notifications.worker import build_runtime, close_runtime

    runtime = build_runtime(settings, db=app.state.db)
    if clock is not None:
        runtime.clock = clock
    runner = InProcessRunner(runtime)
    app.state.notification_queue = runner
    await runner.start()
    try:
        yield
    finally:
        await runner.stop()
        await close_runtime(runtime, dispose_db=False)
