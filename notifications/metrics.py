"""Prometheus metrics of the notification pipeline.

Two kinds:

* **Process metrics**, counted where the work happens (the arq worker, or the
  web process with the in-process runner): time from due to handed over,
  hand-over outcomes, provider errors by code. The worker serves its own on
  ``WORKER_METRICS_PORT`` (:func:`serve_worker_metrics`).
* **Outbox gauges**, read from the database at each scrape of ``/metrics``
  (any process sees the same numbers): queue depth (waiting and due),
  the age of the oldest due row, notifications by status and channel, and
  notifications by provider error code.

Process metrics are per process by design. With several web processes on
one port a scrape of ``/metrics`` reaches one of them, so scrape the workers'
``WORKER_METRICS_PORT`` for them (with ``REDIS_URL`` the web processes do no
notification work); the outbox gauges are the same from any process.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from core.db import Database, utcnow
from notifications.models import Notification
from notifications.statuses import Channel, NotificationStatus

HANDOVER_SECONDS = Histogram(
    "tanntid_notification_handover_seconds",
    "Seconds from a notification's due time to the provider accepting it",
    ["channel"],
    buckets=(1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
HANDOVERS = Counter(
    "tanntid_notification_handovers",
    "Hand-over attempts to a provider, by outcome (accepted, retry, failed, unknown)",
    ["channel", "outcome"],
)
CAPPED = Counter(
    "tanntid_sms_capped",
    "Texts not sent because their number had SMS_PER_NUMBER_PER_DAY texts in 24 hours",
    ["channel"],
)
PROVIDER_ERRORS = Counter(
    "tanntid_notification_provider_errors",
    "Provider error codes seen at hand-over or in receipts",
    ["channel", "code"],
)


def observe_handover(channel: str, due_at: datetime, handed_over_at: datetime) -> None:
    HANDOVER_SECONDS.labels(channel).observe(max(0.0, (handed_over_at - due_at).total_seconds()))


def count_capped(channel: str) -> None:
    CAPPED.labels(channel).inc()


def count_outcome(channel: str, outcome: str, error_code: int | None) -> None:
    HANDOVERS.labels(channel, outcome).inc()
    if error_code is not None:
        PROVIDER_ERRORS.labels(channel, str(error_code)).inc()


class OutboxSnapshot(Collector):
    """Gauges from one reading of the outbox (see :func:`read_outbox`)."""

    def __init__(self, by_status: dict[tuple[str, str], int], due: int,
                 oldest_due_seconds: float, by_error: dict[tuple[str, int], int],
                 cancelled: dict[str, int] | None = None, daily_cap: int | None = None
                 ) -> None:
        self.by_status = by_status
        self.due = due
        self.oldest_due_seconds = oldest_due_seconds
        self.by_error = by_error
        #: Cancelled rows by reason (the daily cap, a later message, no number, ...).
        self.cancelled = cancelled or {}
        self.daily_cap = daily_cap

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = GaugeMetricFamily("tanntid_notifications",
                                   "Notifications in the outbox by status and channel",
                                   labels=["status", "channel"])
        for s in NotificationStatus:
            for c in Channel:
                status.add_metric([s.value, c.value], self.by_status.get((s.value, c.value), 0))
        yield status
        yield GaugeMetricFamily("tanntid_notification_queue_depth",
                                "Notifications waiting whose time has come", value=self.due)
        yield GaugeMetricFamily("tanntid_notification_oldest_due_seconds",
                                "Age of the oldest waiting notification whose time has come",
                                value=self.oldest_due_seconds)
        errors = GaugeMetricFamily("tanntid_notifications_by_error_code",
                                   "Notifications (kept rows) by provider error code",
                                   labels=["channel", "code"])
        for (channel, code), count in sorted(self.by_error.items()):
            errors.add_metric([channel, str(code)], count)
        yield errors
        cancelled = GaugeMetricFamily("tanntid_notifications_cancelled_by_reason",
                                      "Cancelled notifications (kept rows) by reason",
                                      labels=["reason"])
        for reason, count in sorted(self.cancelled.items()):
            cancelled.add_metric([reason], count)
        yield cancelled
        if self.daily_cap is not None:
            yield GaugeMetricFamily("tanntid_sms_per_number_per_day",
                                    "The cap on texts to one number in 24 hours "
                                    "(SMS_PER_NUMBER_PER_DAY)", value=self.daily_cap)


async def read_outbox(db: Database, now: datetime | None = None,
                      daily_cap: int | None = None) -> OutboxSnapshot:
    now = now or utcnow()
    async with db.read() as session:
        by_status = {
            (status, channel): int(count)
            for status, channel, count in await session.execute(
                select(Notification.status, Notification.channel, func.count())
                .group_by(Notification.status, Notification.channel))
        }
        due, oldest = (await session.execute(
            select(func.count(), func.min(Notification.send_after))
            .where(Notification.status == NotificationStatus.CREATED,
                   Notification.send_after <= now))).one()
        by_error = {
            (channel, int(code or 0)): int(count)
            for channel, code, count in await session.execute(
                select(Notification.channel, Notification.error_code, func.count())
                .where(Notification.error_code.is_not(None))
                .group_by(Notification.channel, Notification.error_code))
        }
        cancelled = {
            str(reason or "none"): int(count)
            for reason, count in await session.execute(
                select(Notification.reason, func.count())
                .where(Notification.status == NotificationStatus.CANCELLED)
                .group_by(Notification.reason))
        }
    oldest_seconds = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return OutboxSnapshot(by_status, int(due), oldest_seconds, by_error, cancelled, daily_cap)


async def render_metrics(db: Database, daily_cap: int | None = None) -> bytes:
    """This process's metrics followed by the outbox gauges, in the text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(await read_outbox(db, daily_cap=daily_cap))
    return generate_latest(REGISTRY) + generate_latest(registry)


def may_scrape(request: Request, networks: Iterable[str], token: str | None) -> bool:
    """Is this request from one of ``networks`` (the client address the
    server saw: behind a proxy, what uvicorn's ``--forwarded-allow-ips``
    lets through), or does it carry ``Authorization: Bearer <token>``?"""
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
            return True
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``, only for the scraper: a client in ``METRICS_NETWORKS``
    or one with the bearer token ``METRICS_TOKEN``; anyone else gets 401."""
    settings = request.app.state.settings
    if not may_scrape(request, settings.metrics_networks, settings.metrics_token):
        return Response("Unauthorized\n", status_code=401, media_type="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(await render_metrics(request.app.state.db,
                                         settings.sms_per_number_per_day),
                    media_type=CONTENT_TYPE_LATEST)


def serve_worker_metrics(port: int, addr: str = "127.0.0.1") -> None:
    """The worker's process metrics on their own port (a background thread)."""
    start_http_server(port, addr=addr)
