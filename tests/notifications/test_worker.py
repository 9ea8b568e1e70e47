"""The arq worker on a real Redis: every job is registered, and notifications
go through the queue end to end, exactly once each."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis

from booking import service
from booking.audit import Actor
from notifications import jobs, sweeps
from notifications.worker import (
    JOBS,
    ArqQueue,
    WorkerSettings,
    cron_jobs,
    make_worker,
    queued_functions,
)
from tests.notifications.helpers import (
    EARLY,
    Clock,
    MemorySms,
    book_adult,
    helsenorge_went,
    make_runtime,
    purge_redis,
    row,
    rows,
    world_with_phones,
)

pytestmark = pytest.mark.redis


def test_every_job_we_enqueue_is_registered_and_takes_an_id():
    registered = {f.name: f for f in WorkerSettings.functions}
    assert set(registered) == {jobs.DELIVER, jobs.DELIVER_BATCH, jobs.APPLY_RECEIPT,
                               jobs.HANDLE_REPLY, jobs.ASK_TO_CONFIRM}
    for name, coroutine in jobs.JOB_FUNCTIONS.items():
        assert name in registered
        # (ctx, internal id or ids): nothing else
        inspect.signature(coroutine).bind({}, [1, 2] if name == jobs.DELIVER_BATCH else 1)
        assert registered[name].keep_result_s == 0  # ids free again once done
    assert {c.name for c in WorkerSettings.cron_jobs} == {
        "enqueue_due", "sweep_stuck_created", "timeout_in_flight", "purge_after_retention",
        "seal_audit", "purge_visit_data", "refill", "escalate"}
    assert len(JOBS) == len(queued_functions()) + len(cron_jobs())
    assert WorkerSettings.keep_result == 0
    assert str(WorkerSettings.timezone) == "Europe/Oslo"


@pytest.fixture
async def arq_redis(redis_server_url: str, redis_prefix: str) -> AsyncIterator[ArqRedis]:
    pool = ArqRedis.from_url(redis_server_url)
    yield pool
    await pool.aclose()
    await purge_redis(redis_server_url, f"*{redis_prefix}*")


async def two_bookings(db):
    world = await world_with_phones(db)
    first = (await book_adult(db, world)).appointment
    second = (await service.book(db, Actor.patient(world.other_adult.id),
                                 patient_id=world.other_adult.id, slot_id=world.slots[1].id,
                                 appointment_type_id=world.exam.id, now=EARLY)).appointment
    await helsenorge_went(db, EARLY)  # these tests are about the SMS rows
    return [(await rows(db, appointment_id=a.id))[0] for a in (first, second)]


async def test_job_ids_deduplicate_while_queued(arq_redis, redis_prefix):
    queue = ArqQueue(arq_redis, queue_name=f"{redis_prefix}queue", job_prefix=redis_prefix)
    assert queue.delivery_job_id(7, 0) == f"{redis_prefix}deliver:7:0"
    assert await queue.enqueue_deliveries([(7, 0), (8, 0)]) == 2
    assert await queue.enqueue_deliveries([(7, 0), (8, 1)]) == 1  # 7:0 is still queued
    assert await arq_redis.zcard(f"{redis_prefix}queue") == 3


async def test_worker_delivers_each_notification_once(db, arq_redis, redis_prefix):
    confirmations = await two_bookings(db)
    sms = MemorySms()
    runtime = make_runtime(db, sms, Clock(EARLY))
    queue_name = f"{redis_prefix}queue"
    runtime.queue = ArqQueue(arq_redis, queue_name=queue_name, job_prefix=redis_prefix)
    ctx = {"runtime": runtime}
    assert await sweeps.enqueue_due(ctx) == 2
    # The same rows queued again by a second producer, and by the sweeper later.
    await runtime.queue.enqueue_deliveries([(c.id, 0) for c in confirmations])
    worker = make_worker(runtime, arq_redis, queue_name=queue_name, burst=True,
                         with_cron=False)
    assert await worker.run_check() == 2
    assert sms.delivered_to() == {c.id: 1 for c in confirmations}
    # Done jobs keep no result, so their ids may be queued again: harmless.
    assert await runtime.queue.enqueue_deliveries([(c.id, 0) for c in confirmations]) == 2
    worker = make_worker(runtime, arq_redis, queue_name=queue_name, burst=True,
                         with_cron=False)
    assert await worker.run_check() == 2
    assert sms.calls == 2
    assert [(await row(db, c.id)).status for c in confirmations] == ["sending", "sending"]


async def test_worker_with_cron_picks_up_a_new_booking(db, redis_server_url, redis_prefix):
    world = await world_with_phones(db)
    sms = MemorySms()
    clock = Clock(EARLY)
    runtime = make_runtime(db, sms, clock)
    queue_name = f"{redis_prefix}queue"
    pool = ArqRedis.from_url(redis_server_url)
    runtime.queue = ArqQueue(pool, queue_name=queue_name, job_prefix=redis_prefix)
    worker = make_worker(runtime, pool, queue_name=queue_name, job_prefix=redis_prefix,
                         poll_delay=0.05)
    task = asyncio.create_task(worker.async_run())
    try:
        appointment = (await book_adult(db, world)).appointment
        confirmation = (await rows(db, appointment_id=appointment.id))[0]
        async with asyncio.timeout(15):
            await sms.arrived.wait()
        for _ in range(200):  # let the job record what the provider said
            if (await row(db, confirmation.id)).status != "created":
                break
            await asyncio.sleep(0.05)
        assert sms.delivered_to() == {confirmation.id: 1}
    finally:
        # A job still running when the worker closes (a sweep the cron
        # started, on a busy machine) is cancelled, and arq's close() passes
        # that cancellation on: let running jobs end first, and take a
        # cancelled one as the shutdown it is (arq runs it again next time).
        for _ in range(200):
            if all(job.done() for job in worker.tasks.values()):
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await purge_redis(redis_server_url, f"*{redis_prefix}*")
    assert (await row(db, confirmation.id)).status == "sending"


async def test_each_job_logs_under_its_own_correlation_id():
    import structlog

    from notifications.runner import InProcessRunner
    from notifications.worker import WorkerSettings, bind_job_context

    assert WorkerSettings.on_job_start is bind_job_context
    structlog.contextvars.bind_contextvars(correlation_id="request-1")
    await bind_job_context({"job_id": "deliver:5:0"})
    assert structlog.contextvars.get_contextvars() == {"correlation_id": "job-deliver:5:0"}

    async def job() -> dict:
        return structlog.contextvars.get_contextvars()

    seen = await InProcessRunner._guard(None, "deliver", job)  # type: ignore[arg-type]
    assert seen["correlation_id"].startswith("job-deliver-")
    assert structlog.contextvars.get_contextvars() == {"correlation_id": "job-deliver:5:0"}
    structlog.contextvars.clear_contextvars()


async def test_the_queue_name_comes_from_the_settings(tmp_path, arq_redis, redis_prefix):
    from core.settings import Settings
    from notifications.worker import shutdown, startup

    queue_name = f"{redis_prefix}elsewhere"
    settings = Settings.from_env({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'q.db'}",
                                  "NOTIFICATION_QUEUE": queue_name})
    ctx = {"settings": settings.notifications, "redis": arq_redis}
    await startup(ctx)
    try:
        assert ctx["runtime"].queue.queue_name == queue_name
    finally:
        await shutdown(ctx)
    assert Settings.from_env({}).notification_queue == "tanntid:notifications"
