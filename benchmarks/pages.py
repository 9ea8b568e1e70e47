"""What the pages cost: requests per second of the landing page, a clinic's
public page, "Min side" and the appointment list, each beside a bare
Starlette endpoint served the same way in the same run.

```sh
.venv/bin/python -m benchmarks.pages [--workers 2] [--connections 64] [--duration 10]
```

The service runs as in production (``tanntid serve --workers N`` on
PostgreSQL, a fresh schema migrated with ``tanntid migrate``; the clinic of
``benchmarks.served`` with free times a week ahead); one patient logs in
through the local test ID-porten and wrk sends that login's cookies to the
pages that need one. The baseline, ``benchmarks.bare``, is uvicorn with the
same number of worker processes on the same machine, measured right before
each page (so each ratio compares numbers seconds apart under the same load).
Needs wrk (``apt-get install wrk``) and PostgreSQL (``$BENCH_DATABASE_URL``,
else ``$TEST_DATABASE_URL``, else the local ``test`` database). Exit status
2 when it cannot run; timings never decide it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from benchmarks.served import (
    Browser,
    bare_uvicorn,
    build_world,
    drop_schema,
    log_in,
    serve,
)

PAGES = (
    ("landing", "/", False),
    ("clinic page", "/klinikker/skalering", False),
    ("Min side", "/min-side", True),
    ("appointment list", "/timer", True),
)


def bare_server(workers: int, log: Path) -> AbstractContextManager[str]:
    return bare_uvicorn("benchmarks.bare:app", workers, log)


def wrk(url: str, *, connections: int, duration: int, cookie: str | None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True,  # noqa: S603
                            timeout=duration + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)

    def percentile(p: str) -> float:
        found = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", output)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rate, "p50_ms": percentile("50"), "p99_ms": percentile("99"),
            "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def _log_in(base_url: str, pid: str) -> str:
    async with Browser(base_url) as client:
        await log_in(client, pid)
        return "; ".join(f"{k}={v}" for k, v in client.jar.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.pages", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("benchmarks.pages: needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    server_url = (args.database_url or os.environ.get("BENCH_DATABASE_URL")
                  or os.environ.get("TEST_DATABASE_URL")
                  or "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    world = asyncio.run(build_world(server_url, patients=2, chairs=4))
    results: dict[str, object] = {"load_average_at_start": load_average(),
                                  "workers": args.workers, "connections": args.connections,
                                  "duration": args.duration, "pages": {}}
    print(f"Pages over uvicorn with {args.workers} workers, wrk {args.connections} "
          f"connections, {args.duration} s each; load average {load_average()}")
    try:
        with tempfile.TemporaryDirectory() as logs, \
                serve(world.database_url, workers=args.workers,
                      log=Path(logs) / "serve.log", timeout=300) as server, \
                bare_server(args.workers, Path(logs) / "bare.log") as bare:
            cookie = asyncio.run(_log_in(server.url, world.pids[0]))
            for name, path, logged_in in PAGES:
                check = httpx.get(server.url + path, timeout=30,
                                  headers={"Cookie": cookie} if logged_in else {})
                if check.status_code != 200:
                    print(f"{name}: GET {path} answered {check.status_code}", file=sys.stderr)
                    return 2
                base = wrk(bare + "/", connections=args.connections, duration=args.duration,
                           cookie=None)
                page = wrk(server.url + path, connections=args.connections,
                           duration=args.duration, cookie=cookie if logged_in else None)
                ratio = page["rps"] / base["rps"]
                results["pages"][name] = {"path": path, "page": page, "bare": base,  # type: ignore[index]
                                          "ratio": ratio}
                print(f"  {name:18} {page['rps']:8.1f} req/s  p50 {page['p50_ms']:7.1f} ms  "
                      f"p99 {page['p99_ms']:7.1f} ms  non-2xx {page['non_2xx']:.0f} | bare "
                      f"{base['rps']:8.1f} req/s | {100 * ratio:5.1f} % of bare")
    finally:
        asyncio.run(drop_schema(server_url, world.schema))
    results["load_average_at_end"] = load_average()
    print(f"load average at the end {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
