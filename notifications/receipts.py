"""Provider receipts (delivery reports) applied to their rows.

A webhook records each receipt as it comes (``notifications.webhooks``);
:func:`apply_receipt_now` moves the row forward only along the allowed
transitions. A final status is never overwritten, and duplicates and
out-of-order receipts are logged and ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import select

from core.db import Database
from notifications import metrics
from notifications.channels.twilio_status import MappedStatus, map_message_status
from notifications.models import Notification, NotificationReceipt
from notifications.statuses import NotificationStatus, ReceiptOutcome, may_move
from notifications.transitions import block_if_needed, locked, move

log = structlog.get_logger(__name__)
S = NotificationStatus

#: provider -> (provider status, error code) -> our reading of it
RECEIPT_MAPPERS: dict[str, Callable[[str, int | None], MappedStatus]] = {
    "twilio": map_message_status,
}


async def apply_receipt_now(db: Database, receipt_id: int, now: datetime) -> str:
    """Apply one recorded provider receipt to its row (once); returns its outcome."""
    async with db.write() as session:
        receipt = (await session.execute(
            select(NotificationReceipt).where(NotificationReceipt.id == receipt_id)
            .with_for_update())).scalar_one_or_none()
        if receipt is None or receipt.applied_at is not None:
            return "done"
        row = None
        if receipt.notification_id is not None:
            row = await locked(session, receipt.notification_id)
        if row is None and receipt.provider_ref:
            row = (await session.execute(
                select(Notification).where(Notification.provider_ref == receipt.provider_ref)
                .with_for_update())).scalars().first()
        receipt.applied_at = now
        if row is None:
            receipt.outcome = ReceiptOutcome.UNKNOWN
            log.warning("receipt_for_unknown_notification", receipt_id=receipt.id)
            return receipt.outcome
        mapped = RECEIPT_MAPPERS[receipt.provider](receipt.provider_status, receipt.error_code)
        if row.provider_ref is None:
            row.provider_ref = receipt.provider_ref
        elif receipt.provider_ref and row.provider_ref != receipt.provider_ref:
            log.warning("receipt_for_other_message", notification_id=row.id,
                        receipt_id=receipt.id)
        if receipt.error_code is not None:
            metrics.PROVIDER_ERRORS.labels(row.channel, str(receipt.error_code)).inc()
        if mapped.status is None:
            receipt.outcome = ReceiptOutcome.IGNORED
            log.warning("receipt_status_not_understood", notification_id=row.id,
                        receipt_id=receipt.id)
            return receipt.outcome
        new = S(mapped.status)
        if not may_move(row.status, new):
            receipt.outcome = ReceiptOutcome.IGNORED
            log.info("receipt_ignored", notification_id=row.id, receipt_id=receipt.id,
                     current=row.status, proposed=new.value,
                     why="duplicate" if row.status == new else "out_of_order_or_final")
            return receipt.outcome
        if row.handed_over_at is None:  # the receipt overtook our own "accepted"
            row.handed_over_at = now
            metrics.observe_handover(row.channel, row.due_at, now)
        move(session, row, new, now, "receipt", mapped.reason, receipt.error_code)
        await block_if_needed(session, row, mapped, now)
        receipt.outcome = ReceiptOutcome.APPLIED
        return receipt.outcome
