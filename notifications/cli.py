"""``tanntid worker`` and ``tanntid notifications stats|resend``.

``web/cli.py`` wires these in: :func:`add_commands` adds the
``notifications`` sub-commands to its parser, :func:`run` runs one, and
:func:`run_worker` is the ``worker`` command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from booking.audit import Actor
from booking.statuses import ActorKind
from core.db import database_for
from core.settings import NotificationSettings


def add_commands(commands: Any) -> None:
    """Add ``notifications stats`` and ``notifications resend`` to ``commands``
    (the sub-parsers object of the ``tanntid`` parser)."""
    parser = commands.add_parser("notifications", help="the notification outbox")
    sub = parser.add_subparsers(dest="notifications_command", required=True)
    stats = sub.add_parser("stats", help="counts by status, queue depth, last 24 hours")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    resend = sub.add_parser("resend", help="send a notification again (support)")
    resend.add_argument("notification_id", type=int, metavar="ID")
    resend.add_argument("--reason", required=True, help="why (kept with the notification)")
    resend.add_argument("--to", default=None,
                        help="a corrected mobile number (default: the person's current one)")
    resend.add_argument("--by", default=os.environ.get("USER", "cli"),
                        help="who asks (support user id, for the audit log)")


def run(args: argparse.Namespace, settings: NotificationSettings) -> int:
    """Run the ``notifications`` sub-command ``args`` names."""
    if args.notifications_command == "stats":
        return stats_command(settings, as_json=args.json)
    if args.notifications_command == "resend":
        return resend_command(settings, args.notification_id, reason=args.reason, to=args.to,
                              by=args.by)
    return 2


def run_worker(settings: NotificationSettings) -> int:
    """``tanntid worker``: the arq worker, until SIGTERM or SIGINT."""
    if not settings.redis_url:
        print("tanntid: REDIS_URL is not set; without Redis, `tanntid serve` runs the "
              "notification jobs itself", file=sys.stderr)
        return 2
    from arq.worker import run_worker as arq_run_worker

    from notifications.worker import WorkerSettings, redis_settings

    arq_run_worker(WorkerSettings,  # type: ignore[arg-type]
                   redis_settings=redis_settings(settings.redis_url),
                   queue_name=settings.notification_queue, ctx={"settings": settings})
    return 0


def stats_command(settings: NotificationSettings, *, as_json: bool = False) -> int:
    from notifications.service import stats

    async def go() -> int:
        db = database_for(settings.database)
        try:
            result = await stats(db)
        finally:
            await db.dispose()
        if as_json:
            print(json.dumps(asdict(result), sort_keys=True))
        else:
            print("\n".join(result.lines()))
        return 0

    return asyncio.run(go())


def resend_command(settings: NotificationSettings, notification_id: int, *, reason: str,
                   to: str | None = None, by: str = "cli") -> int:
    from notifications.service import ResendRefused, resend

    async def go() -> int:
        db = database_for(settings.database)
        try:
            copy = await resend(db, notification_id, reason=reason, to=to,
                                actor=Actor(ActorKind.SUPPORT, f"support:{by}"[:64]))
        except ResendRefused as refused:
            print(f"tanntid: not resent: {refused.code}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()
        print(f"tanntid: notification {copy.id} queued (resend {copy.resend_no} of "
              f"{notification_id})")
        return 0

    return asyncio.run(go())
