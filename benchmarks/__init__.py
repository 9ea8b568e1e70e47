"""National-scale benchmarks of Tanntid on PostgreSQL (``python -m benchmarks``)."""

from __future__ import annotations


def compose() -> None:
    """What the benchmarks wire as the service's entry points do: bookings
    write their notifications through the outbox (``booking.events``)."""
    from notifications import outbox

    outbox.subscribe()
