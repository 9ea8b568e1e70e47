"""Rate limits: how often one address, session or person may ask for
something costly (a login, a held time), through the maintained ``limits``
package rather than counters of our own.

With ``REDIS_URL`` the counts live in Redis, shared by every process on every
machine; without it, in this process's memory (the embedded default runs one
process). A rule is written as ``limits`` reads it, several separated by
semicolons: ``"10/minute;60/hour"``. The moving window counts every request
of the last minute (hour), so a burst at the turn of a minute gets no double
allowance.

When Redis does not answer, the request goes through and a warning is
logged: a limit protects the service, it must not take it down.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Final

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

log = structlog.get_logger(__name__)

#: Prefix of the limits' Redis keys.
PREFIX: Final = "tanntid:limits"


class RateLimited(Exception):
    """Too many requests: try again in ``retry_after`` seconds."""

    def __init__(self, rule: str, retry_after: int) -> None:
        super().__init__(rule)
        self.rule = rule
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    """A named limit of one or more windows (``"10/minute;60/hour"``)."""

    name: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, name: str, text: str) -> Rule:
        """The rule, or ``ValueError`` when ``text`` is not a limit."""
        items = tuple(parse_many(text)) if text.strip() else ()
        if not items:
            raise ValueError(f"{text!r} is not a rate limit")
        return cls(name, items)


def hashed(value: str) -> str:
    """An identifier for a key that must not hold the value itself (a
    session cookie)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class Limiter:
    """Counts requests per rule and identifiers and refuses those over a limit."""

    def __init__(self, redis_url: str | None = None, prefix: str = PREFIX) -> None:
        storage: Storage
        if redis_url:
            scheme, _, rest = redis_url.partition("://")
            scheme = "redis+unix" if scheme == "unix" else scheme
            storage = RedisStorage(f"async+{scheme}://{rest}", implementation="redispy",
                                   key_prefix=prefix, wrap_exceptions=True)
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, rule: Rule, *identifiers: str) -> None:
        """Count one request, or raise :class:`RateLimited` (counting nothing)
        when any window of ``rule`` is full."""
        try:
            for item in rule.items:
                if not await self._strategy.test(item, rule.name, *identifiers):
                    stats = await self._strategy.get_window_stats(item, rule.name, *identifiers)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    log.info("rate_limited", rule=rule.name, retry_after=wait)
                    raise RateLimited(rule.name, wait)
            for item in rule.items:
                await self._strategy.hit(item, rule.name, *identifiers)
        except StorageError as exc:
            log.warning("rate_limit_storage_unavailable", rule=rule.name,
                        error=type(exc.storage_error).__name__)

    async def reset(self) -> None:
        """Forget every count (tests, and an operator clearing a block)."""
        await self.storage.reset()
