"""N due reminders through the real arq workers (``python -m web.cli worker``
processes) to the fake Twilio (a process of its own) on loopback, beside
arq's own no-op job throughput on the same Redis, measured in the same run.

    .venv/bin/python -m benchmarks.notifications [--count 100000] [--workers 2]

Needs PostgreSQL (``TEST_DATABASE_URL``, default the local ``test`` database;
a fresh database is created and dropped) and ``redis-server`` (a private one
on a free port). Issue 5's goal: at least 1,000 SMS handed to Twilio per second.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker, func

from benchmarks import compose
from tests.notifications.reliability_helpers import (
    ROOT,
    PrivateRedis,
    WorkerProcess,
    due_reminders,
    free_port,
    fresh_database,
    worker_env,
)
from tests.services import postgres_url

NOOP_QUEUE = "bench:noop"
#: Seconds between the throughput samples reported.
WINDOW_S = 10.0


async def _noop(ctx: dict[str, Any], n: int) -> None:
    return None


async def arq_noop(redis_url: str, count: int) -> dict[str, float]:
    """Enqueue ``count`` no-op jobs, then drain them with one burst worker."""
    pool = ArqRedis.from_url(redis_url)
    try:
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with semaphore:
                await pool.enqueue_job("_noop", i, _queue_name=NOOP_QUEUE)

        await asyncio.gather(*(one(i) for i in range(count)))
        enqueued = time.perf_counter() - started
        worker = Worker(functions=[func(_noop, name="_noop", keep_result=0)],
                        queue_name=NOOP_QUEUE, redis_pool=pool, burst=True,
                        handle_signals=False, keep_result=0, max_jobs=20, poll_delay=0.05)
        started = time.perf_counter()
        await worker.main()
        ran = time.perf_counter() - started
        await worker.close()
    finally:
        await pool.aclose()
    return {"enqueue_s": enqueued, "run_s": ran, "jobs_per_s": count / ran}


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_fake/stats", timeout=5) as answer:  # noqa: S310
        return dict(json.loads(answer.read()))


async def run(count: int, workers: int, limit: float) -> dict[str, Any]:
    compose()
    redis = PrivateRedis()
    redis.start()
    port = free_port()
    fake = subprocess.Popen(  # noqa: S603, ASYNC220 (our own module, before timing)
        [sys.executable, "-m", "notifications.fakes.twilio", "--port", str(port),
         "--no-callbacks"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs: list[WorkerProcess] = []
    try:
        assert fake.stdout is not None
        creds = json.loads(fake.stdout.readline())
        url = creds["TWILIO_API_URL"]
        for _ in range(100):
            try:
                _stats(url)
                break
            except OSError:
                await asyncio.sleep(0.1)
        noop = await arq_noop(redis.url, count)
        async with fresh_database(postgres_url()) as (db_url, db):
            started = time.perf_counter()
            await due_reminders(db, count)
            seeded = time.perf_counter() - started
            env = worker_env(db_url, redis.url, account_sid=creds["TWILIO_ACCOUNT_SID"],
                             auth_token=creds["TWILIO_AUTH_TOKEN"], twilio_url=url)
            env["LOG_LEVEL"] = "WARNING"
            procs = [WorkerProcess(env, name=f"bench-worker-{i}") for i in range(workers)]
            started = time.perf_counter()
            for proc in procs:
                proc.start()
            first: float | None = None
            accepted = 0
            samples: list[tuple[float, int]] = []
            while time.perf_counter() - started < limit:
                accepted = int(_stats(url)["accepted"])
                now = time.perf_counter()
                if accepted and first is None:
                    first = now
                if not samples or now - samples[-1][0] >= WINDOW_S or accepted >= count:
                    samples.append((now, accepted))
                    print(f"{now - started:6.1f} s  {accepted:7d} handed over",
                          file=sys.stderr, flush=True)
                if accepted >= count:
                    break
                await asyncio.sleep(0.25)
            done = time.perf_counter()
            for proc in procs:
                proc.stop()
            stats = _stats(url)
    finally:
        for proc in procs:
            proc.stop()
        fake.kill()
        fake.wait(10)
        redis.stop()
    total = done - started
    steady = done - (first or started)
    # Rates over successive windows once sending began: does it hold up as
    # the outbox and the fake's records grow?
    rates = [(b - a) / (t1 - t0) for (t0, a), (t1, b) in itertools.pairwise(samples)
             if a and t1 > t0]
    return {
        "count": count, "workers": workers, "accepted": accepted,
        "duplicates": stats["duplicates"], "seed_s": round(seeded, 1),
        "total_s": round(total, 1), "sms_per_s_total": round(accepted / total, 1),
        "sms_per_s_after_first": round(accepted / steady, 1) if steady else None,
        "sms_per_s_windows": [round(rate) for rate in rates],
        "arq_noop_jobs_per_s": round(noop["jobs_per_s"], 1),
        "arq_noop_enqueue_s": round(noop["enqueue_s"], 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "finished": accepted >= count,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="give up after this many seconds of sending")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.count, args.workers, args.timeout))
    print(json.dumps(result, indent=2))
    return 0 if result["finished"] and not result["duplicates"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
