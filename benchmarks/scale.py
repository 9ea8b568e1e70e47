"""``python -m benchmarks.scale``: the web service under load with 1, 2 and 4
web processes on this machine against one PostgreSQL.

For each process count: a fresh schema (``tanntid migrate``) with one clinic
and its free times a week ahead, ``tanntid serve --workers N`` on a free
port, the users logged in through the local test ID-porten over HTTP, then
wrk (``benchmarks/scale.lua``) drives them for ``--duration`` seconds: each
looks at their appointments, their page and the clinic's free times, and
books one time. Reported per process count: requests per second, latency
percentiles (all requests), bookings made, and the database connections in
use (``pg_stat_activity``, sampled every half second). Then the schema is
dropped. Exit status 0 when every run finished without server errors or
double bookings, 1 when not, 2 when it could not run (no wrk, no PostgreSQL).
Timings never decide the exit status. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks.served import (
    CLINIC,
    KIND,
    Browser,
    bookings,
    build_world,
    choice_links,
    connections,
    drop_schema,
    hidden_fields,
    log_in,
    page_text,
    serve,
)

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCRIPT = Path(__file__).with_name("scale.lua")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4],
                        help="web process counts to measure (default 1 2 4)")
    parser.add_argument("--duration", type=int, default=20,
                        help="seconds of load per process count (default 20)")
    parser.add_argument("--users", type=int, default=32,
                        help="logged-in patients (default 32)")
    parser.add_argument("--connections", type=int, default=8,
                        help="concurrent clients: wrk threads, one connection each (default 8)")
    parser.add_argument("--pool-size", type=int, default=10, help="DATABASE_POOL_SIZE")
    parser.add_argument("--max-overflow", type=int, default=0, help="DATABASE_MAX_OVERFLOW")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args(argv)


async def prepare_users(url: str, pids: list[str], concurrency: int = 4) -> list[str]:
    """Log each user in; returns their lines for the wrk script: cookie,
    picker path, picker form fields (tab-separated)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(pid: str) -> str:
        async with gate, Browser(url) as client:
            await log_in(client, pid)
            page = await page_text(client, "/bestill")
            page = await page_text(client, choice_links(page)[KIND])
            picker_path = choice_links(page)[CLINIC]
            form = hidden_fields(await page_text(client, picker_path), "time-form")
            cookie = "; ".join(f"{k}={v}" for k, v in client.jar.items())
            return f"{cookie}\t{picker_path}\t{urlencode(form)}"

    return list(await asyncio.gather(*(one(pid) for pid in pids)))


async def sample_connections(server_url: str, stop: asyncio.Event) -> list[int]:
    samples: list[int] = []
    while not stop.is_set():
        samples.append(await connections(server_url))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass
    return samples


async def run_wrk(url: str, users: Path, slots: Path, args: argparse.Namespace
                  ) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t", str(args.connections), "-c", str(args.connections),
        "-d", f"{args.duration}s", "--timeout", "30s", "-s", str(SCRIPT), url, "--",
        str(users), str(slots), str(args.connections),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    line = next((line for line in text.splitlines() if line.startswith("WRK_RESULT ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed:\n{text}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    return result


async def measure(processes: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    chairs = max(4, math.ceil(args.users * 1.5 / 28))
    world = await build_world(args.database_url, patients=args.users, chairs=chairs)
    env = {"DATABASE_POOL_SIZE": str(args.pool_size),
           "DATABASE_MAX_OVERFLOW": str(args.max_overflow)}
    try:
        idle = await connections(args.database_url)
        with serve(world.database_url, workers=processes, log=work / f"serve-{processes}.log",
                   extra_env=env) as server:
            started = time.monotonic()
            lines = await prepare_users(server.url, world.pids)
            login_seconds = time.monotonic() - started
            random.Random(processes).shuffle(lines)
            users, slots = work / "users.tsv", work / "slots.txt"
            users.write_text("\n".join(lines) + "\n")
            slots.write_text("\n".join(map(str, world.slot_ids)) + "\n")
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_connections(args.database_url, stop))
            try:
                result = await run_wrk(server.url, users, slots, args)
            finally:
                stop.set()
                samples = await sampler
        made, distinct = await bookings(world.database_url)
    finally:
        await drop_schema(args.database_url, world.schema)
    # The sampler's own connection and the baseline (other work) left out.
    used = [max(0, sample - idle) for sample in samples]
    return {
        "processes": processes, "users": args.users, "connections": args.connections,
        "duration_s": result["seconds"], "requests": result["requests"],
        "requests_per_s": round(result["requests"] / result["seconds"], 1),
        "p50_ms": result["p50_ms"], "p95_ms": result["p95_ms"], "p99_ms": result["p99_ms"],
        "max_ms": result["max_ms"], "socket_errors": result["errors"],
        "server_errors": result["server_errors"], "refused": result["refused"],
        "bookings": made, "double_bookings": made - distinct,
        "bookings_per_s": round(result["bookings"] / result["seconds"], 1),
        "db_connections_peak": max(used, default=0),
        "db_connections_mean": round(sum(used) / len(used), 1) if used else 0,
        "db_connections_limit": processes * (args.pool_size + args.max_overflow),
        "login_s_per_user": round(login_seconds / args.users, 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def table(results: list[dict[str, Any]]) -> str:
    head = ("| Web processes | Requests/s | p50 ms | p95 ms | p99 ms | Bookings | 5xx "
            "| DB connections peak (limit) | Load average after |")
    rows = [head, "|" + "---:|" * 9]
    for r in results:
        rows.append(
            f"| {r['processes']} | {r['requests_per_s']} | {r['p50_ms']:.0f} | "
            f"{r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['bookings']} | {r['server_errors']} "
            f"| {r['db_connections_peak']} ({r['db_connections_limit']}) "
            f"| {r['load_average'][0]} |")
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> int:
    if not args.database_url.startswith("postgresql"):
        print("benchmarks.scale: needs PostgreSQL", file=sys.stderr)
        return 2
    try:
        await asyncio.wait_for(connections(args.database_url), 10)
    except Exception as exc:
        print(f"benchmarks.scale: cannot reach PostgreSQL: {type(exc).__name__}",
              file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="tanntid-scale-") as tmp:
        for processes in args.processes:
            print(f"benchmarks.scale: {processes} web process(es), {args.users} users, "
                  f"{args.connections} connections, {args.duration} s ...", flush=True)
            result = await measure(processes, args, Path(tmp))
            print(json.dumps(result), flush=True)
            results.append(result)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    bad = [r for r in results if r["server_errors"] or r["double_bookings"]]
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("benchmarks.scale: wrk is not installed (apt-get install -y wrk; "
              "`make bench-scale` installs it)", file=sys.stderr)
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
