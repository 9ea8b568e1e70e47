"""Appointment events: what a booking tells the rest of the service.

``booking.service`` emits one event per unit of work (booked, changed,
cancelled; and the clinic's request to move an appointment,
from ``booking.schedule_changes``) inside its own ``async with db.write() as session:`` block, so
whatever the listener writes commits or rolls back with the booking change
itself ("save first, then queue"). The listener is the notification outbox
(``notifications.outbox.EVENTS``); the composition roots (``web.app``,
``web.cli``, the notification worker, the benchmarks, the tests) register it
with :func:`set_listener`. Booking knows nothing of notifications.

Without a listener, the service refuses to book, change or cancel
(:func:`listener` raises, and the transaction rolls back): a process that
forgot to register the outbox must not silently leave patients untold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Appointment


class AppointmentEvents(Protocol):
    """Called inside the booking's transaction, with its session."""

    async def on_booked(self, session: AsyncSession, appointment: Appointment, *,
                        now: datetime) -> object: ...

    async def on_changed(self, session: AsyncSession, old: Appointment, new: Appointment, *,
                         now: datetime) -> object: ...

    async def on_cancelled(self, session: AsyncSession, appointment: Appointment, *,
                           now: datetime) -> object: ...

    async def on_move_requested(self, session: AsyncSession, appointment: Appointment, *,
                                now: datetime) -> object: ...


_listener: AppointmentEvents | None = None


def set_listener(listener: AppointmentEvents | None) -> AppointmentEvents | None:
    """Install the process's listener (None removes it); returns the previous one."""
    global _listener
    previous, _listener = _listener, listener
    return previous


def listener() -> AppointmentEvents:
    """The registered listener; raises if the process registered none."""
    if _listener is None:
        raise RuntimeError(
            "no appointment events listener is registered: the composition root must call "
            "booking.events.set_listener(notifications.outbox.EVENTS) before booking, "
            "changing or cancelling appointments")
    return _listener
