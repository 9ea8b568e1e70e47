"""The schedule preview benchmark runs end to end at a tiny size (timings
never decide it)."""

from __future__ import annotations

import pytest

from benchmarks import schedule_preview
from tests.services import postgres_url


@pytest.mark.postgres
def test_schedule_preview_benchmark_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    status = schedule_preview.main(["--database-url", postgres_url(), "--chairs", "2",
                                    "--weeks", "13", "--rounds", "2"])
    assert status == 0
    out = capsys.readouterr().out
    assert "preview of a 12-week change" in out
