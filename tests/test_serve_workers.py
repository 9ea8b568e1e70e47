"""Scale-out: ``tanntid serve --workers 2`` as a subprocess on one port,
on PostgreSQL, with the local test ID-porten. Fifty patients log in and book
over real HTTP at once; the steps of one login and of one booking land on
whichever process the kernel gives the connection (each request here opens
its own connection), so anything kept in one process's memory would fail.
Every login and booking succeeds, and no time is booked twice."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from benchmarks.served import Browser, book, bookings, build_world, drop_schema, log_in, serve
from tests.logcheck import keep_output
from tests.services import postgres_url, require

# The service runs in other processes, on the machine's clock.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.real_clock]

PATIENTS = 50


async def test_fifty_logins_and_bookings_through_two_processes(tmp_path: Path) -> None:
    world = await build_world(await require("postgresql", postgres_url()),
                              patients=PATIENTS, chairs=3)
    log = tmp_path / "serve.log"
    try:
        with serve(world.database_url, workers=2, log=log) as server:
            assert len(server.web_processes()) == 2
            gate = asyncio.Semaphore(10)

            async def visit(number: int, pid: str) -> int:
                async with gate, Browser(server.url) as client:
                    # A new connection per request: the load is spread over both processes.
                    client.headers["Connection"] = "close"
                    await log_in(client, pid)
                    assert (await client.get("/timer")).status_code == 200
                    return await book(client, world.slot_ids, random.Random(number))

            results = await asyncio.gather(*(visit(n, pid) for n, pid in
                                             enumerate(world.pids)), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            assert not failures, failures[:5]
            assert len(set(results)) == PATIENTS
            assert await bookings(world.database_url) == (PATIENTS, PATIENTS)
    finally:
        output = log.read_text(errors="replace") if log.exists() else ""
        keep_output("serve-workers", output)
        await drop_schema(postgres_url(), world.schema)
    # Both processes shut down on SIGTERM without errors.
    assert server.process.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for pid in world.pids:
        assert pid not in output
