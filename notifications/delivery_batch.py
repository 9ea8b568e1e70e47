"""Handing a reminder wave over: many SMS rows of one ``deliver_batch`` job
with the same guards as one (``delivery``), but one contact lookup, one
compare-and-swap claim under one lease token, the hand-overs side by side
and one write of what the provider said for them all."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, or_, tuple_, update

from notifications import helsenorge_first
from notifications.delivery import Prepared, judge, not_sent, prepare_many, record_many, send
from notifications.models import Notification
from notifications.runtime import Runtime
from notifications.segments import count_segments
from notifications.statuses import OWN_WORDING, Channel, NotificationStatus
from notifications.transitions import Snapshot, not_superseded

S = NotificationStatus


async def _claim_many(runtime: Runtime, items: Sequence[tuple[Snapshot, Prepared]],
                      now: datetime) -> tuple[str, set[int]]:
    """``delivery``'s claim for many rows under one lease token: one compare-and-swap
    update (status, attempt count, lease, and the appointment still as the row
    knew it), then each claimed row's number and words."""
    token = secrets.token_hex(16)
    lease = runtime.config.lease
    pairs = [(snapshot.row.id, snapshot.row.attempts) for snapshot, _ in items]
    async with runtime.db.write() as session:
        claimed = set((await session.execute(
            update(Notification)
            # ``id IN`` beside the pairs keeps PostgreSQL on the primary key
            # (the row-value IN alone can get a generic plan that scans the table).
            .where(Notification.id.in_([nid for nid, _ in pairs]),
                   tuple_(Notification.id, Notification.attempts).in_(pairs),
                   Notification.status == S.CREATED,
                   or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
                   not_superseded())
            .values(claim_token=token, claimed_until=now + lease, send_after=now + lease,
                    in_doubt=True, attempts=Notification.attempts + 1, attempted_at=now,
                    reason=None)
            .returning(Notification.id)
            .execution_options(synchronize_session=False))).scalars())
        if claimed:
            table = Notification.__table__
            assert isinstance(table, Table)
            await session.execute(
                update(table).where(table.c.id == bindparam("n_id"),
                                    table.c.claim_token == token)
                .values(to_e164=bindparam("n_to"), body=bindparam("n_body"),
                        language=bindparam("n_language"),
                        template_id=bindparam("n_template_id"),
                        template_version=bindparam("n_template_version"),
                        segments=bindparam("n_segments")),
                [{"n_id": snapshot.row.id, "n_to": p.to_e164, "n_body": p.body,
                  "n_language": p.language, "n_template_id": p.template_id,
                  "n_template_version": p.template_version,
                  "n_segments": count_segments(p.body).segments if p.body is not None else None}
                 for snapshot, p in items if snapshot.row.id in claimed])
    return token, claimed


def batchable(snapshot: Snapshot, now: datetime) -> bool:
    """May this ready row go in a batch? Rows needing more thought (not SMS,
    in doubt, to end or to wait) go through ``jobs.deliver`` one by one."""
    row = snapshot.row
    return row.channel == Channel.SMS and not row.in_doubt \
        and row.purpose not in OWN_WORDING \
        and not helsenorge_first.may_apply(snapshot, now) \
        and judge(snapshot, now).action == "send"


async def deliver_sms_batch(runtime: Runtime, ready: Sequence[Snapshot], now: datetime
                            ) -> Counter[str]:
    """Hand :func:`batchable` rows over with one contact lookup, one claim,
    the hand-overs side by side and one write for them all; returns how many
    ended how."""
    tally: Counter[str] = Counter()
    sendable: list[tuple[Snapshot, Prepared]] = []
    prepared = await prepare_many(runtime, ready, now) if ready else {}
    for snapshot in ready:
        ready_one = prepared[snapshot.row.id]
        if ready_one.skip is not None:
            tally[await not_sent(runtime.db, snapshot.row, ready_one.skip, now, None)] += 1
        else:
            sendable.append((snapshot, ready_one))
    if sendable:
        token, claimed = await _claim_many(runtime, sendable, now)
        tally["claimed"] += len(sendable) - len(claimed)
        mine = [(snapshot, p) for snapshot, p in sendable if snapshot.row.id in claimed]
        results = await asyncio.gather(*(send(runtime, s, p, now) for s, p in mine))
        outcomes = await record_many(
            runtime, token, {s.row.id: result for (s, _), result in zip(mine, results,
                                                                        strict=True)})
        tally.update(outcomes.values())
    return tally
