"""Structured logs: JSON lines outside dev, readable lines in dev. Every line
carries the correlation id of its request or job (bound by the middleware or
job wrapper in ``structlog.contextvars``). Log internal ids only: never names,
identity numbers or phone numbers."""

from __future__ import annotations

import logging
import sys

import structlog

_configured = False

#: Libraries whose own log lines carry statement parameters or full URLs
#: (which may hold a phone or identity number): warnings and errors only.
QUIET_LOGGERS = ("sqlalchemy.engine", "aiosqlite", "asyncio", "httpx", "httpcore")


def configure_logging(*, json: bool, level: str = "INFO") -> None:
    global _configured
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    if not _configured:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.set_name("tanntid")
        root.addHandler(handler)
        _configured = True
    if root.level > logging.getLevelName(level) or root.level == logging.WARNING:
        root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
