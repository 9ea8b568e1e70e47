"""The queued job functions: the same coroutines run under arq
(``notifications.worker``) and in-process (``notifications.runner``).
Arguments are internal ids only.

Every job is safe to run twice, concurrently, or after a crash (arq runs jobs
at least once): it acts only if the row is still in the state it expects, and
changes rows with compare-and-swap updates under a short lease
(``notifications.transitions``).

:func:`deliver` reads the row, checks it is due and unclaimed, and hands it to
its channel's delivery, looked up in :data:`CHANNELS`: an SMS
(``notifications.delivery``) or an appointment PUT to Helsenorge
(``notifications.helsenorge_delivery``). :func:`deliver_many` does a reminder
wave in one go (``notifications.delivery_batch``). Receipts are applied by
``notifications.receipts``; the periodic jobs are in ``notifications.sweeps``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import structlog

from notifications.confirm_requests import ask_guardian
from notifications.delivery import deliver_sms
from notifications.delivery_batch import batchable, deliver_sms_batch
from notifications.helsenorge_delivery import deliver_to_helsenorge
from notifications.receipts import apply_receipt_now
from notifications.reply_actions import handle_reply as handle_reply_now
from notifications.runtime import Runtime, runtime_of
from notifications.statuses import Channel
from notifications.transitions import Snapshot, not_ready, read_snapshot, read_snapshots

log = structlog.get_logger(__name__)
T = TypeVar("T")

DELIVER = "deliver_notification"
DELIVER_BATCH = "deliver_batch"
#: Rows per :func:`deliver_batch` job.
BATCH_SIZE = 50
APPLY_RECEIPT = "apply_receipt"
HANDLE_REPLY = "handle_reply"
ASK_TO_CONFIRM = "ask_to_confirm"

#: Channel -> how one due, unclaimed row of it is handed over.
CHANNELS: dict[str, Callable[[Runtime, Snapshot, datetime], Awaitable[str]]] = {
    Channel.SMS: deliver_sms,
    Channel.HELSENORGE: deliver_to_helsenorge,
}


def batched(items: Sequence[T]) -> list[list[T]]:
    """``items`` in the slices :func:`deliver_batch` jobs take (:data:`BATCH_SIZE`)."""
    return [list(items[i:i + BATCH_SIZE]) for i in range(0, len(items), BATCH_SIZE)]


async def deliver(runtime: Runtime, notification_id: int) -> str:
    """Hand one notification to its channel if it is still due; returns what happened."""
    now = runtime.clock()
    snapshot = await read_snapshot(runtime.db, notification_id)
    if snapshot is None:
        log.warning("notification_missing", notification_id=notification_id)
        return "missing"
    early = not_ready(snapshot.row, now)
    if early is not None:
        return early
    channel = CHANNELS.get(snapshot.row.channel)
    if channel is None:
        return "no_channel"
    return await channel(runtime, snapshot, now)


async def deliver_many(runtime: Runtime, notification_ids: Sequence[int]) -> dict[str, int]:
    """:func:`deliver` for many rows (a reminder wave): the same guards, with
    one read, one contact lookup, one claim, the hand-overs side by side and
    one write for them all. Rows needing more thought (in doubt, not SMS, to
    end or to wait) go through :func:`deliver` one by one. Returns how many
    ended how."""
    now = runtime.clock()
    snapshots = await read_snapshots(runtime.db, notification_ids)
    tally: Counter[str] = Counter(missing=len(set(notification_ids) - snapshots.keys()))
    ready: list[Snapshot] = []
    one_by_one: list[int] = []
    for snapshot in snapshots.values():
        early = not_ready(snapshot.row, now)
        if early is not None:
            tally[early] += 1
        elif batchable(snapshot, now):
            ready.append(snapshot)
        else:
            one_by_one.append(snapshot.row.id)
    for notification_id in one_by_one:
        tally[await deliver(runtime, notification_id)] += 1
    tally.update(await deliver_sms_batch(runtime, ready, now))
    return {name: count for name, count in tally.items() if count}


async def deliver_notification(ctx: dict[str, Any], notification_id: int) -> str:
    """arq job: :func:`deliver`."""
    return await deliver(runtime_of(ctx), notification_id)


async def deliver_batch(ctx: dict[str, Any], notification_ids: list[int]) -> dict[str, int]:
    """arq job: :func:`deliver_many`."""
    return await deliver_many(runtime_of(ctx), notification_ids)


async def apply_receipt(ctx: dict[str, Any], receipt_id: int) -> str:
    """arq job: apply one recorded provider receipt (``receipts.apply_receipt_now``)."""
    runtime = runtime_of(ctx)
    return await apply_receipt_now(runtime.db, receipt_id, runtime.clock())


async def handle_reply(ctx: dict[str, Any], inbound_id: int) -> str:
    """arq job: act on one text someone sent us, and answer it
    (``reply_actions.handle_reply``). The argument is the stored row's id:
    never a number, a body or an identity number."""
    runtime = runtime_of(ctx)

    async def hand_over(notification_id: int) -> str:
        return await deliver(runtime, notification_id)

    return await handle_reply_now(runtime, inbound_id, hand_over)


async def ask_to_confirm(ctx: dict[str, Any], guardian_id: int) -> int | None:
    """arq job: one numbered text asking a guardian to confirm several
    children's appointments (``confirm_requests.ask_guardian``)."""
    runtime = runtime_of(ctx)
    return await ask_guardian(runtime, guardian_id, runtime.clock())


#: Every queued job the worker must know: name -> coroutine (see ``notifications.worker``).
JOB_FUNCTIONS: dict[str, Callable[..., Any]] = {
    DELIVER: deliver_notification,
    DELIVER_BATCH: deliver_batch,
    APPLY_RECEIPT: apply_receipt,
    HANDLE_REPLY: handle_reply,
    ASK_TO_CONFIRM: ask_to_confirm,
}
