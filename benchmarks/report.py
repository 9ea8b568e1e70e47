"""Percentiles, the machine description, and printing each measurement beside
its baseline. Only counts, timings and ratios are printed: never a name, an
identity number or a phone number."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TextIO


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def per_second(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "n/a"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.1f}×" if baseline > 0 else "n/a"


def _first_line(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine(server_version: str, settings: dict[str, str]) -> dict[str, Any]:
    memory = _first_line("/proc/meminfo", "MemTotal")
    memory_gib = f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB" if memory else "unknown"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory": memory_gib,
        "cpu": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "load_average_at_start": load_average(),
        "python": platform.python_version(),
        "sqlalchemy": version("sqlalchemy"),
        "asyncpg": version("asyncpg"),
        "postgresql": server_version,
        "postgresql_settings": settings,
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


@dataclass
class Reporter:
    """Prints sections as they finish and keeps them for ``--json``."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    results: dict[str, Any] = field(default_factory=dict)

    def heading(self, title: str) -> None:
        print(f"\n== {title} ==", file=self.out, flush=True)

    def line(self, label: str, value: str, detail: str = "") -> None:
        print(f"  {label:<34} {value:>18}  {detail}".rstrip(), file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(f"  {text}", file=self.out, flush=True)

    def record(self, key: str, data: dict[str, Any]) -> None:
        self.results[key] = data
