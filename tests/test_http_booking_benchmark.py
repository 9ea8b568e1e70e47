"""The HTTP booking benchmark runs end to end at a tiny scale: the service
and the baseline under uvicorn, the clients through the local test ID-porten
and the real booking form, and no double booking (its exit status says so;
timings never decide it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from core.settings import ROOT
from tests.logcheck import keep_output
from tests.services import postgres_url, require

#: The benchmark in a process of its own, on the machine's clock.
pytestmark = [pytest.mark.slow, pytest.mark.real_clock]


@pytest.mark.postgres
async def test_http_booking_benchmark_smoke_run():
    await require("postgresql", postgres_url())
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "benchmarks.http_booking", "--clients", "6", "--slots", "2",
         "--workers", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "BENCH_DATABASE_URL": postgres_url()})
    keep_output("http-booking-benchmark", result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "double-booked slots 0" in result.stdout
    assert "winners 2 of 2" in result.stdout
