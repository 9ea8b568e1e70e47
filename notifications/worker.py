"""The arq worker: ``tanntid worker`` (``arq notifications.worker.WorkerSettings``
works too, reading the settings from the environment).

:data:`JOBS` is the one list of every job: queued functions and cron jobs
alike; ``WorkerSettings.functions`` and ``cron_jobs`` are derived from it, and
a test checks that every job name we enqueue is in it.

arq facts this relies on (research/tech.md §5):

* A job id is refused while a job with that id is queued or running, and
  while its result is kept. Results are never kept here (``keep_result = 0``,
  worker-wide, since failed jobs keep theirs for the worker's setting), so an
  id is free again as soon as its job is done. Delivery job ids carry the
  row's attempt count, ``deliver:<id>:<attempts>``, so the next attempt after
  a retry is a new id even if an old one lingers.
* Jobs run at least once (a killed worker's job runs again): the job
  functions guard on the row's state (``notifications.transitions``).
* Nothing is deferred in Redis: the database says when a row is due, and the
  ``enqueue_due`` cron (every 2 s) queues it. A flushed Redis delays
  notifications, the sweeper re-queues them, nothing is lost.
* Cron schedules use Europe/Oslo (``timezone``), so "02:15" is Oslo's.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from arq import Retry, cron
from arq.connections import ArqRedis, RedisSettings
from arq.cron import CronJob
from arq.worker import Function, Worker, func
from sqlalchemy.exc import OperationalError

from booking.refill import RefillPolicy
from core.db import Database, database_for
from core.settings import NotificationSettings, Settings
from notifications import escalation, jobs, outbox, previsit_sweep, refill, sweeps
from notifications.channels.base import SmsChannel
from notifications.contacts import contact_directory
from notifications.jobs import (
    APPLY_RECEIPT,
    ASK_TO_CONFIRM,
    DELIVER,
    DELIVER_BATCH,
    HANDLE_REPLY,
    batched,
)
from notifications.runtime import DeliveryConfig, EscalationDefaults, JobQueue, Runtime
from notifications.schedule import OSLO
from notifications.templates import link_key

log = structlog.get_logger(__name__)

QUEUE_NAME = "tanntid:notifications"
#: A delivery must finish well inside the row's lease (``DeliveryConfig.lease``).
DELIVERY_TIMEOUT_SECONDS = 60
_ENQUEUE_CONCURRENCY = 32
#: From how many due rows ``deliver_batch`` jobs (of ``jobs.BATCH_SIZE`` rows) are used.
BATCH_FROM = 4


# --- the queue, seen from the producers --------------------------------------

class ArqQueue:
    """:class:`notifications.runtime.JobQueue` on arq. ``job_prefix`` keeps job
    ids of separate deployments (or tests) sharing one Redis apart."""

    def __init__(self, redis: ArqRedis, *, queue_name: str = QUEUE_NAME,
                 job_prefix: str = "") -> None:
        self.redis = redis
        self.queue_name = queue_name
        self.job_prefix = job_prefix

    def delivery_job_id(self, notification_id: int, attempts: int) -> str:
        return f"{self.job_prefix}deliver:{notification_id}:{attempts}"

    def receipt_job_id(self, receipt_id: int) -> str:
        return f"{self.job_prefix}receipt:{receipt_id}"

    async def _enqueue_all(self, calls: Sequence[tuple[str, Any, str]]) -> list[bool]:
        """Enqueue (function, argument, job id) calls side by side; for each,
        whether it made a new job (False: a job of that id exists)."""
        semaphore = asyncio.Semaphore(_ENQUEUE_CONCURRENCY)

        async def one(function: str, arg: Any, job_id: str) -> bool:
            async with semaphore:
                job = await self.redis.enqueue_job(function, arg, _job_id=job_id,
                                                   _queue_name=self.queue_name)
                return job is not None

        return list(await asyncio.gather(*(one(*call) for call in calls)))

    def batch_job_id(self, items: Sequence[tuple[int, int]]) -> str:
        """Named after its (id, attempts) pairs: the same batch queued twice is
        one job, and a row's next attempt is in a batch of another name."""
        digest = hashlib.sha256(repr(sorted(items)).encode()).hexdigest()[:24]
        return f"{self.job_prefix}deliver-batch:{digest}"

    async def enqueue_deliveries(self, items: Sequence[tuple[int, int]]) -> int:
        """One job per row when there are few; batches of :data:`BATCH_SIZE`
        (``deliver_batch``) for a wave. Returns how many rows went into new jobs."""
        if len(items) < BATCH_FROM:
            return sum(await self._enqueue_all(
                [(DELIVER, nid, self.delivery_job_id(nid, attempts)) for nid, attempts in items]))
        batches = batched(items)
        made = await self._enqueue_all([(DELIVER_BATCH, [nid for nid, _ in batch],
                                         self.batch_job_id(batch)) for batch in batches])
        return sum(len(batch) for batch, new in zip(batches, made, strict=True) if new)

    async def enqueue_receipts(self, receipt_ids: Sequence[int]) -> int:
        return sum(await self._enqueue_all(
            [(APPLY_RECEIPT, rid, self.receipt_job_id(rid)) for rid in receipt_ids]))

    def reply_job_id(self, inbound_id: int) -> str:
        return f"{self.job_prefix}reply:{inbound_id}"

    async def enqueue_replies(self, inbound_ids: Sequence[int]) -> int:
        return sum(await self._enqueue_all(
            [(HANDLE_REPLY, iid, self.reply_job_id(iid)) for iid in inbound_ids]))


# --- every job, in one list --------------------------------------------------

@dataclass(frozen=True)
class JobSpec:
    coroutine: Callable[..., Any]
    name: str
    #: arq.cron keyword arguments for a cron job; None for a queued function.
    schedule: dict[str, Any] | None = None
    timeout: int = DELIVERY_TIMEOUT_SECONDS
    max_tries: int = 5
    extra: dict[str, Any] = field(default_factory=dict)


def _retry_on_outage(coroutine: Callable[..., Any]) -> Callable[..., Any]:
    """A database or network outage is worth another try (arq ``Retry``);
    anything else fails the job, and the sweeper brings the row back."""

    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        try:
            return await coroutine(ctx, *args)
        except (OperationalError, OSError) as exc:
            tries = int(ctx.get("job_try", 1))
            log.warning("notification_job_outage", job=coroutine.__name__,
                        error=type(exc).__name__, job_try=tries)
            raise Retry(defer=timedelta(seconds=min(5 * tries, 60))) from exc

    run.__name__ = coroutine.__name__
    run.__qualname__ = coroutine.__qualname__
    run.__doc__ = coroutine.__doc__
    return run


JOBS: tuple[JobSpec, ...] = (
    JobSpec(_retry_on_outage(jobs.deliver_notification), DELIVER),
    JobSpec(_retry_on_outage(jobs.deliver_batch), DELIVER_BATCH),
    JobSpec(_retry_on_outage(jobs.apply_receipt), APPLY_RECEIPT),
    # At most once (the reply is marked taken first): no retries.
    JobSpec(jobs.handle_reply, HANDLE_REPLY, max_tries=1),
    JobSpec(_retry_on_outage(jobs.ask_to_confirm), ASK_TO_CONFIRM),
    JobSpec(sweeps.enqueue_due, "enqueue_due", {"second": set(range(0, 60, 2))}, timeout=30,
            max_tries=1),
    JobSpec(sweeps.sweep_stuck_created, "sweep_stuck_created",
            {"minute": set(range(0, 60, 5)), "second": 30}, max_tries=1),
    JobSpec(sweeps.timeout_in_flight, "timeout_in_flight",
            {"minute": set(range(7, 60, 10)), "second": 0}, max_tries=1),
    # The audit chains' heads sealed every ten seconds (booking.audit).
    JobSpec(sweeps.seal_audit, "seal_audit", {"second": set(range(5, 60, 10))}, timeout=30,
            max_tries=1),
    # Freed time offered to the waitlist: an offer goes within seconds of a cancellation.
    JobSpec(refill.refill_job, "refill", {"second": set(range(1, 60, 5))}, timeout=30,
            max_tries=1),
    # Second reminders and call tasks (reminders that escalate).
    JobSpec(escalation.escalate, "escalate", {"second": 40}, timeout=30, max_tries=1),
    # Works for at most ``sweeps.PERIODIC_BUDGET_SECONDS`` a run: a few runs a night.
    JobSpec(sweeps.purge_after_retention, "purge_after_retention",
            {"hour": {2, 3, 4}, "minute": {15, 45}, "second": 0}, max_tries=1),
    JobSpec(previsit_sweep.purge_visit_data, "purge_visit_data",
            {"hour": {2, 3, 4}, "minute": {25, 55}, "second": 0}, max_tries=1),
)
#: No job may run longer than a delivery: arq keeps a killed worker's
#: in-progress keys for the longest job timeout (+10 s), and a delivery job id
#: cannot be queued again until they are gone.
assert max(spec.timeout for spec in JOBS) <= DELIVERY_TIMEOUT_SECONDS


def queued_functions() -> list[Function]:
    return [func(spec.coroutine, name=spec.name, keep_result=0, timeout=spec.timeout,
                 max_tries=spec.max_tries) for spec in JOBS if spec.schedule is None]


def cron_jobs(name_prefix: str = "") -> list[CronJob]:
    """The cron jobs; arq names their job ids after them (``<name>:<ms>``), so a
    ``name_prefix`` keeps a test's apart on a shared Redis."""
    return [cron(spec.coroutine, name=name_prefix + spec.name, timeout=spec.timeout,
                 keep_result=0, max_tries=spec.max_tries, **spec.schedule)
            for spec in JOBS if spec.schedule is not None]


# --- building the runtime from settings --------------------------------------

def config_from_settings(settings: NotificationSettings) -> DeliveryConfig:
    """The jobs' configuration: ``PUBLIC_URL``, ``SECRET_KEY`` (for the links)
    and ``NOTIFICATION_RETENTION_DAYS``."""
    return DeliveryConfig(
        public_url=settings.public_url,
        link_key=link_key(settings.secret_key),
        retention=timedelta(days=settings.notification_retention_days),
        previsit_retention=timedelta(days=settings.previsit_retention_days),
        daily_cap=settings.sms_per_number_per_day,
        refill=RefillPolicy(offer_minutes=settings.refill_offer_minutes,
                            wave_size=settings.refill_wave_size,
                            min_lead_hours=settings.refill_min_lead_hours,
                            children_first=settings.refill_children_first),
        reply_answers_per_day=settings.sms_reply_answers_per_day,
        own_numbers=frozenset(n for n in (settings.twilio_from,) if n),
        escalation=EscalationDefaults(second_reminder_hours=settings.second_reminder_hours,
                                      call_task_hours=settings.call_task_hours,
                                      no_show_days=settings.call_task_no_show_days),
    )


def sms_channel_from_settings(settings: NotificationSettings) -> SmsChannel:
    """Twilio when ``TWILIO_ACCOUNT_SID`` is set; otherwise the local channel
    that only the ``/dev/sms`` page sees (refused in production)."""
    account_sid = settings.twilio_account_sid
    if account_sid:
        from notifications.channels.twilio_sms import DEFAULT_API_URL, TwilioSmsChannel

        return TwilioSmsChannel(
            account_sid=account_sid, auth_token=settings.twilio_auth_token or "",
            public_url=settings.public_url,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            from_number=settings.twilio_from,
            api_url=settings.twilio_api_url or DEFAULT_API_URL)
    if settings.is_production:
        raise RuntimeError("TWILIO_ACCOUNT_SID is required in production")
    from notifications.dev_outbox import LocalSmsChannel

    return LocalSmsChannel()


def build_runtime(settings: NotificationSettings, *, queue: JobQueue | None = None,
                  db: Database | None = None) -> Runtime:
    """The jobs' runtime; with ``db`` it shares that engine (the web process's)."""
    from notifications.helsenorge_sync import sync_from_settings

    helsenorge = sync_from_settings(settings)  # refused in production without Helsenorge
    db = db or database_for(settings.database)
    return Runtime(db=db, sms=sms_channel_from_settings(settings),
                   contacts=contact_directory(settings, db), config=config_from_settings(settings),
                   queue=queue, helsenorge=helsenorge)


async def close_runtime(runtime: Runtime, *, dispose_db: bool = True) -> None:
    for part in (runtime.sms, runtime.contacts):
        closer = getattr(part, "aclose", None)
        if closer is not None:
            await closer()
    if runtime.helsenorge is not None:
        await runtime.helsenorge.aclose()
    if dispose_db:
        await runtime.db.dispose()


def arq_dispatcher(queue: ArqQueue, *, timeout: float = 2.0) -> Callable[[Sequence[int]], None]:
    """An outbox dispatcher for the web process: queue new rows on arq right
    after the commit, in the background. If Redis is away, ``enqueue_due``
    queues them once it is back."""
    tasks: set[asyncio.Task[None]] = set()

    async def enqueue(ids: Sequence[int]) -> None:
        try:
            await asyncio.wait_for(queue.enqueue_deliveries([(i, 0) for i in ids]), timeout)
        except Exception as exc:
            log.warning("notification_enqueue_failed", count=len(ids), error=type(exc).__name__)

    def dispatch(ids: Sequence[int]) -> None:
        task = asyncio.get_running_loop().create_task(enqueue(list(ids)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return dispatch


async def startup(ctx: dict[str, Any]) -> None:
    settings = ctx.get("settings")
    if settings is None:  # started as ``arq notifications.worker.WorkerSettings``
        settings = Settings.from_env().notifications
    assert isinstance(settings, NotificationSettings)
    outbox.subscribe()  # jobs that book, change or cancel write their notifications
    runtime = build_runtime(settings)
    runtime.queue = ArqQueue(ctx["redis"], queue_name=settings.notification_queue)
    ctx["runtime"] = runtime
    port = settings.worker_metrics_port
    if port:
        from notifications.metrics import serve_worker_metrics

        serve_worker_metrics(port)
    log.info("notification_worker_started")


async def shutdown(ctx: dict[str, Any]) -> None:
    runtime = ctx.get("runtime")
    if isinstance(runtime, Runtime):
        await close_runtime(runtime)


async def bind_job_context(ctx: dict[str, Any]) -> None:
    """Every log line of a job carries a correlation id of its own (arq runs
    each job in its own task, so the binding stays with that job)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(correlation_id=f"job-{ctx.get('job_id', '')}")


class WorkerSettings:
    """``arq notifications.worker.WorkerSettings`` (``tanntid worker`` adds the
    Redis address and settings)."""

    functions = queued_functions()
    cron_jobs = cron_jobs()
    queue_name = QUEUE_NAME
    timezone = OSLO
    keep_result = 0
    max_jobs = 20
    job_timeout = DELIVERY_TIMEOUT_SECONDS
    poll_delay = 0.2
    health_check_interval = 30
    on_startup = startup
    on_shutdown = shutdown
    on_job_start = bind_job_context


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


def make_worker(runtime: Runtime, redis: ArqRedis, *, queue_name: str = QUEUE_NAME,
                burst: bool = False, with_cron: bool = True, job_prefix: str = "",
                **options: Any) -> Worker:
    """A worker around an existing runtime and Redis pool (tests, benchmarks):
    the same functions and cron jobs as :class:`WorkerSettings`; ``job_prefix``
    goes before every job id and cron name."""
    runtime.queue = runtime.queue or ArqQueue(redis, queue_name=queue_name,
                                              job_prefix=job_prefix)
    values: dict[str, Any] = dict(
        functions=queued_functions(), cron_jobs=cron_jobs(job_prefix) if with_cron else None,
        queue_name=queue_name, redis_pool=redis, burst=burst, handle_signals=False,
        keep_result=0, timezone=OSLO, max_jobs=WorkerSettings.max_jobs,
        job_timeout=DELIVERY_TIMEOUT_SECONDS, poll_delay=0.05, ctx={"runtime": runtime},
        on_job_start=bind_job_context,
    )
    values.update(options)
    return Worker(**values)
