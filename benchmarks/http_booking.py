"""Booking over real HTTP under contention: ``--clients`` logged-in patients
walk the real booking form for ``--slots`` times of one clinic at the same
moment, beside a bare endpoint doing one ``UPDATE`` under the same server.

```sh
.venv/bin/python -m benchmarks.http_booking [--clients 200] [--slots 20] [--rounds 1]
    [--workers 2] [--json out.json]
```

The service runs as in production (``tanntid serve --workers N`` on
PostgreSQL, a fresh schema migrated with ``tanntid migrate``, the clinic of
``benchmarks.served``). Each client logs in through the local test ID-porten
and opens the clinic's time picker (its form carries the CSRF token and the
booking's idempotency key) before the start. Then all clients at once, ten
(``clients / slots``) per time: ``POST /bestill/velg`` (hold the time; 409
when another holds or has it), ``GET /bestill/bekreft`` (the summary) and
``POST /bestill/bekreft`` (book; 303 to the receipt, or 409). Every answer's
latency is measured from when its request was sent; the attempt's from the
common start. **Baseline**, in the same run right before each round:
``benchmarks.bare:update_app`` under uvicorn with the same number of worker
processes, the same number of clients each sending one
``POST /update/{row}`` (a one-statement ``UPDATE`` transaction through the
service's database layer on ``slots`` rows) at the same moment.

Afterwards the database is checked: no slot with two live appointments, one
winner per time. Exit status 0 when that held, 1 when not, 2 when the run
could not be made; timings never decide it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from benchmarks.served import (
    CLINIC,
    KIND,
    Browser,
    _path,
    bare_uvicorn,
    bookings,
    build_world,
    choice_links,
    drop_schema,
    hidden_fields,
    log_in,
    page_text,
    serve,
)
from core.db import create_database

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
#: Slots per chair in the world of ``benchmarks.served`` (07:00 to 21:00).
SLOTS_PER_CHAIR = 28


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Attempt:
    """One client's walk: each answer's (step, status, seconds) and the outcome."""

    answers: list[tuple[str, int, float]] = field(default_factory=list)
    won: bool = False
    done: float = 0.0  # seconds from the common start
    error: str | None = None


@dataclass
class Client:
    browser: Browser
    hidden: dict[str, str]
    slot_id: int


def update_server(database_url: str, workers: int, log: Path
                  ) -> AbstractContextManager[str]:
    return bare_uvicorn("benchmarks.bare:update_app", workers, log,
                        {**os.environ, "BENCH_UPDATE_DATABASE_URL": database_url})


async def make_counter(database_url: str, rows: int) -> None:
    db = create_database(database_url, pool_size=1, max_overflow=0)
    try:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS bench_counter "
                "(id integer PRIMARY KEY, n bigint NOT NULL)")
            await conn.execute(text(
                "INSERT INTO bench_counter SELECT g, 0 FROM generate_series(1, :rows) g "
                "ON CONFLICT DO NOTHING"), {"rows": rows})
    finally:
        await db.dispose()


async def picker_path(base_url: str, pid: str) -> str:
    """The clinic's time picker for the benchmark's kind, found as a patient
    finds it (the booking start, the kind, the clinic)."""
    async with Browser(base_url) as browser:
        await log_in(browser, pid)
        page = await page_text(browser, "/bestill")
        page = await page_text(browser, choice_links(page)[KIND])
        return choice_links(page)[CLINIC]


async def prepare(base_url: str, pid: str, picker: str, slot_id: int,
                  gate: asyncio.Semaphore) -> Client:
    async with gate:
        for tries_left in reversed(range(3)):  # setup, not measured: a busy machine may 503
            browser = Browser(base_url)
            try:
                await log_in(browser, pid)
                html = await page_text(browser, picker)
                return Client(browser, hidden_fields(html, "time-form"), slot_id)
            except (AssertionError, httpx.HTTPError):
                await browser.aclose()
                if not tries_left:
                    raise
                await asyncio.sleep(1)
        raise AssertionError("unreachable")


async def walk(client: Client, start: float) -> Attempt:
    attempt = Attempt()
    browser = client.browser

    async def answer(step: str, request: Any) -> httpx.Response:
        sent = time.perf_counter()
        response: httpx.Response = await request
        attempt.answers.append((step, response.status_code, time.perf_counter() - sent))
        return response

    try:
        held = await answer("hold", browser.post(
            "/bestill/velg", data={**client.hidden, "slot": str(client.slot_id)}))
        if held.status_code == 303:
            summary = await answer("summary", browser.get(_path(held.headers["location"])))
            if summary.status_code == 200:
                done = await answer("confirm", browser.post(
                    "/bestill/bekreft", data=hidden_fields(summary.text, "confirm-form")))
                attempt.won = (done.status_code == 303
                               and "/kvittering" in done.headers.get("location", ""))
                if done.status_code not in (303, 409):
                    attempt.error = f"confirm answered {done.status_code}"
            elif summary.status_code != 409:
                attempt.error = f"summary answered {summary.status_code}"
        elif held.status_code != 409:
            attempt.error = f"hold answered {held.status_code}"
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        attempt.error = type(exc).__name__
    attempt.done = time.perf_counter() - start
    return attempt


async def baseline(url: str, clients: int, rows: int) -> dict[str, Any]:
    """``clients`` keep-alive clients (connected first), one ``UPDATE`` each
    at the same moment, ``clients / rows`` per row."""
    browsers = [httpx.AsyncClient(base_url=url, timeout=60.0) for _ in range(clients)]
    try:
        await asyncio.gather(*(b.get("/") for b in browsers))
        latencies: list[float] = []
        errors = 0

        async def one(index: int, browser: httpx.AsyncClient) -> None:
            nonlocal errors
            sent = time.perf_counter()
            try:
                response = await browser.post(f"/update/{1 + index % rows}")
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - sent)

        start = time.perf_counter()
        await asyncio.gather(*(one(i, b) for i, b in enumerate(browsers)))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(b.aclose() for b in browsers))
    return {"p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99),
            "attempts_per_s": clients / elapsed, "errors": errors, "seconds": elapsed}


def summarise(attempts: list[Attempt], elapsed: float) -> dict[str, Any]:
    answers = [seconds for a in attempts for _step, _status, seconds in a.answers]
    by_step: dict[str, list[float]] = {}
    for a in attempts:
        for step, _status, seconds in a.answers:
            by_step.setdefault(step, []).append(seconds)
    won = [a.done for a in attempts if a.won]
    lost = [a.done for a in attempts if not a.won and a.error is None]
    return {
        "answers": len(answers),
        "answer_p50_ms": 1000 * percentile(answers, 50),
        "answer_p99_ms": 1000 * percentile(answers, 99),
        "steps": {step: {"count": len(values), "p50_ms": 1000 * percentile(values, 50),
                         "p99_ms": 1000 * percentile(values, 99)}
                  for step, values in by_step.items()},
        "won": len(won), "lost": len(lost),
        "errors": sorted({a.error for a in attempts if a.error}),
        "error_count": sum(1 for a in attempts if a.error),
        "won_flow_p99_ms": 1000 * percentile(won, 99),
        "lost_flow_p50_ms": 1000 * percentile(lost, 50),
        "attempts_per_s": len(attempts) / elapsed, "seconds": elapsed,
        "server_5xx": sum(1 for a in attempts for _s, status, _t in a.answers if status >= 500),
    }


async def one_round(server_url: str, bare_url: str, pids: list[str], slot_ids: list[int],
                    picker: str, args: argparse.Namespace) -> dict[str, Any]:
    gate = asyncio.Semaphore(args.login_concurrency)
    clients = await asyncio.gather(*(
        prepare(server_url, pid, picker, slot_ids[index % len(slot_ids)], gate)
        for index, pid in enumerate(pids)))
    try:
        base = await baseline(bare_url, len(pids), len(slot_ids))
        start = time.perf_counter()
        attempts = await asyncio.gather(*(walk(client, start) for client in clients))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.browser.aclose() for c in clients))
    return {"booking": summarise(list(attempts), elapsed), "baseline": base}


def print_round(number: int, result: dict[str, Any]) -> None:
    b, u = result["booking"], result["baseline"]
    steps = ", ".join(f"{step} p50 {s['p50_ms']:.0f} / p99 {s['p99_ms']:.0f} ms ({s['count']})"
                      for step, s in b["steps"].items())
    print(f"  round {number}: booking {b['attempts_per_s']:.1f} attempts/s, every answer "
          f"p50 {b['answer_p50_ms']:.0f} ms p99 {b['answer_p99_ms']:.0f} ms; won {b['won']}, "
          f"lost {b['lost']}, errors {b['error_count']} {b['errors'] or ''}")
    print(f"           {steps}")
    print(f"           winners' whole flow p99 {b['won_flow_p99_ms']:.0f} ms; losers told at "
          f"p50 {b['lost_flow_p50_ms']:.0f} ms")
    print(f"           baseline UPDATE {u['attempts_per_s']:.1f} attempts/s, p50 "
          f"{u['p50_ms']:.0f} ms p99 {u['p99_ms']:.0f} ms, errors {u['errors']}")
    print(f"           ratio: answer p99 / UPDATE p99 {b['answer_p99_ms'] / u['p99_ms']:.1f}x, "
          f"UPDATE rate / booking rate {u['attempts_per_s'] / b['attempts_per_s']:.1f}x")


async def run(args: argparse.Namespace, logs: Path) -> tuple[int, dict[str, Any]]:
    chairs = max(1, math.ceil(args.rounds * args.slots / SLOTS_PER_CHAIR))
    world = await build_world(args.database_url, patients=args.clients * args.rounds,
                              chairs=chairs)
    results: dict[str, Any] = {"clients": args.clients, "slots": args.slots,
                               "rounds": args.rounds, "workers": args.workers,
                               "load_average_at_start": load_average(), "rounds_results": []}
    print(f"HTTP booking: {args.clients} clients on {args.slots} slots, {args.rounds} round(s), "
          f"uvicorn {args.workers} workers; load average {load_average()}")
    try:
        await make_counter(world.database_url, args.slots)
        with serve(world.database_url, workers=args.workers, log=logs / "serve.log",
                   timeout=300) as server, \
                update_server(world.database_url, args.workers, logs / "bare.log") as bare:
            picker = await picker_path(server.url, world.pids[0])
            for number in range(args.rounds):
                pids = world.pids[number * args.clients:(number + 1) * args.clients]
                if number == 0:
                    pids = pids[1:] + pids[:1]  # the one who found the picker goes last
                slots = world.slot_ids[number * args.slots:(number + 1) * args.slots]
                result = await one_round(server.url, bare, pids, slots, picker, args)
                results["rounds_results"].append(result)
                print_round(number + 1, result)
        appointments, distinct = await bookings(world.database_url)
    finally:
        await drop_schema(args.database_url, world.schema)
    won = sum(r["booking"]["won"] for r in results["rounds_results"])
    five_xx = sum(r["booking"]["server_5xx"] for r in results["rounds_results"])
    double = appointments - distinct
    results.update(appointments=appointments, double_booked=double, won=won,
                   server_5xx=five_xx, load_average_at_end=load_average())
    expected = args.rounds * min(args.slots, args.clients)
    print(f"double-booked slots {double}; appointments {appointments}; winners {won} of "
          f"{expected}; server errors {five_xx}; load average at the end {load_average()}")
    ok = double == 0 and won == appointments == expected and five_xx == 0
    return (0 if ok else 1), results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_booking",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--login-concurrency", type=int, default=8,
                        help="clients logging in at a time before the start")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        print("benchmarks.http_booking: needs PostgreSQL", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory() as logs:
            status, results = asyncio.run(run(args, Path(logs)))
    except (OSError, RuntimeError, AssertionError, httpx.HTTPError) as exc:
        print(f"benchmarks.http_booking: could not run: {exc}"[:2000], file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
