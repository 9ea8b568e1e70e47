"""A pytest plugin: every log record of the whole run is also written to a
file, and at the end the files are searched for identity numbers and phone
numbers. Finding one fails the run.

Under pytest-xdist each worker writes files of its own (their names end in
the worker id) and the controller, which starts before and ends after the
workers, clears the folder first and searches every file at the end."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from core.identity import is_valid
from web.logs import QUIET_LOGGERS

LOG_DIR = Path("var/test-logs")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
LOG_PATH = LOG_DIR / (f"run-{_WORKER}.log" if _WORKER else "run.log")
#: Eleven digits standing alone: not a run of digits inside a longer token
#: (a hex correlation or job id can hold eleven digits that pass the checks).
_ELEVEN = re.compile(r"(?<![0-9A-Za-z])\d{11}(?![0-9A-Za-z])")
#: A Norwegian mobile number standing alone, not digits inside a hex id.
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+47|0047)\s?[49]\d(?:\s?\d){6}(?![0-9A-Za-z])")
_handler: logging.Handler | None = None


def keep_output(name: str, text: str) -> None:
    """Add a subprocess's log output (a server, a worker, the CLI) to the
    files searched at the end of the run."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / (f"{name}-{_WORKER}.log" if _WORKER else f"{name}.log")).open(
            "a", encoding="utf-8") as out:
        out.write(text)


def personal_data_in(text: str) -> list[str]:
    """Identity numbers (any valid one, synthetic included) and Norwegian
    mobile numbers in international form found in ``text``."""
    found = [m for m in _ELEVEN.findall(text) if is_valid(m, allow_synthetic=True)]
    found += _PHONE.findall(text)
    return found


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    global _handler
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    if not _is_worker(session.config):
        for stale in LOG_DIR.glob("*.log"):
            stale.unlink()
    _handler = logging.FileHandler(LOG_PATH, mode="w", encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(_handler)
    logging.getLogger().setLevel(logging.DEBUG)
    # As in production (web/logs.py): libraries' debug output prints statement
    # parameters and full URLs, which is exactly what must never reach a log.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is None:
        return
    _handler.flush()
    logging.getLogger().removeHandler(_handler)
    _handler.close()
    if _is_worker(session.config):
        return  # the controller searches every worker's files
    hits = []
    for path in sorted(LOG_DIR.glob("*.log")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for item in personal_data_in(line):
                hits.append(f"{path}:{lineno}: {item[:2]}… in a log line")
    if hits:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("Personal data found in the logs of this run:", red=True)
            for hit in hits[:20]:
                reporter.write_line("  " + hit, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
