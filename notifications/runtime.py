"""What the notification jobs run with: one :class:`Runtime` per process
(``worker.build_runtime``), the same under arq and in-process
(``notifications.runner``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from booking.refill import RefillPolicy
from booking.relations import RelationsSource
from core.db import Database, utcnow
from notifications.channels.base import SmsChannel
from notifications.helsenorge_sync import HelsenorgeSync
from notifications.recipients import ContactDirectory


@dataclass(frozen=True)
class EscalationDefaults:
    """Reminders that escalate, where the county sets nothing else
    (``notifications.escalation``); 0 hours turns a step off."""

    second_reminder_hours: int = 48
    call_task_hours: int = 24
    no_show_days: int = 365


@dataclass(frozen=True)
class DeliveryConfig:
    public_url: str
    #: Key for the signed links in messages (``templates.link_key(SECRET_KEY)``).
    link_key: bytes = field(repr=False)
    #: How long a worker holds a row while handing it over (longer than the
    #: channel's request timeout).
    lease: timedelta = timedelta(minutes=2)
    #: After an in-doubt hand-over, ask the provider again after this.
    reconcile_delay: timedelta = timedelta(minutes=1)
    #: A due row not picked up this long after it was queued is queued again.
    stuck_after: timedelta = timedelta(minutes=10)
    #: With the provider and no final receipt after this: temporary failure (Notify: 72 h).
    in_flight_timeout: timedelta = timedelta(hours=72)
    #: Message bodies and phone numbers are removed this long after the final status.
    retention: timedelta = timedelta(days=7)
    #: Pre-visit form answers are deleted this long after the appointment.
    previsit_retention: timedelta = timedelta(days=30)
    max_attempts: int = 20
    #: Texts handed over to one number in 24 hours; more are cancelled
    #: (``SMS_PER_NUMBER_PER_DAY``).
    daily_cap: int = 10
    batch: int = 1000
    #: Freed time offered to people waiting (``REFILL_*``, ``booking.refill``).
    refill: RefillPolicy = field(default_factory=RefillPolicy)
    #: Answers to replies from one number in 24 hours (``SMS_REPLY_ANSWERS_PER_DAY``).
    reply_answers_per_day: int = 5
    #: Our own sending numbers: a text from one of them is never answered.
    own_numbers: frozenset[str] = frozenset()
    #: Second reminders and call tasks (``SECOND_REMINDER_HOURS``, ``CALL_TASK_*``;
    #: ``notifications.escalation``).
    escalation: EscalationDefaults = field(default_factory=EscalationDefaults)


class JobQueue(Protocol):
    """Where due work is put: arq (``worker.ArqQueue``) or the in-process runner."""

    async def enqueue_deliveries(self, items: Sequence[tuple[int, int]]) -> int:
        """(notification id, attempts so far) pairs; returns how many were new."""
        ...

    async def enqueue_receipts(self, receipt_ids: Sequence[int]) -> int: ...

    async def enqueue_replies(self, inbound_ids: Sequence[int]) -> int:
        """Texts people sent us (``inbound_sms`` ids) to act on and answer."""
        ...


@dataclass
class Runtime:
    """What the jobs need; built once per process (``worker.build_runtime``)."""

    db: Database
    sms: SmsChannel
    contacts: ContactDirectory
    config: DeliveryConfig
    queue: JobQueue | None = None
    clock: Callable[[], datetime] = utcnow
    #: Appointments to Helsenorge (``helsenorge_sync``); None: its rows are cancelled.
    helsenorge: HelsenorgeSync | None = None
    #: Whose children a guardian may act for (replies by SMS); None: the
    #: local guardianships (``booking.relations.LocalRelations``).
    relations: RelationsSource | None = None


def runtime_of(ctx: Mapping[str, Any]) -> Runtime:
    runtime = ctx["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime
