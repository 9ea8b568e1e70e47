"""The benchmark runs end to end at a tiny scale and finds no double booking
(its exit status says so; timings never decide it)."""

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
async def test_benchmark_smoke_run():
    await require("postgresql", postgres_url())
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "benchmarks", "--scale", "0.001", "--no-pages",
         "--database-url", postgres_url()],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    keep_output("benchmark", result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "double-booked slots" in result.stdout


async def test_outcome_benchmark_smoke_run():
    """A week at one clinic, one latency trial: it runs and reports both modes."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "benchmarks.outcome", "--clinics", "1", "--days", "7",
         "--latency-trials", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    keep_output("benchmark-outcome", result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "share refilled (goal >= 80 %)" in result.stdout
    assert "cancellation -> refill offer handed over" in result.stdout
@pytest.mark.postgres
async def test_day_view_benchmark_smoke_run():
    await require("postgresql", postgres_url())
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "benchmarks.day_view", "--appointments", "2000",
         "--patients", "500", "--requests", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "BENCH_DATABASE_URL": postgres_url()})
    keep_output("day-view-benchmark", result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ratio at p95" in result.stdout
