"""The audit entry for a support or administrator request naming something
outside the staff member's county (or that does not exist): the request gets
404, and this records that it was tried."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from starlette.exceptions import HTTPException

from booking import audit
from booking.audit import Actor
from core.db import Database

REFUSED_ACTION: Final = "access.refused"


async def refused(db: Database, actor: Actor, target: str, target_id: int | str | None, *,
                  purpose: str = "support", now: datetime | None = None) -> HTTPException:
    """Record the refusal; returns the 404 for the caller to raise."""
    async with db.write() as session:
        await audit.record(session, actor, REFUSED_ACTION, purpose=purpose,
                           detail={"target": target, "id": target_id,
                                   "refused": "outside_county"}, now=now)
    return HTTPException(404)
