"""Tables of support's bulk resend (``notifications.bulk_resend``).

A run records who chose which selection and what came of it. Each message
sent again by a run has an item linking the original to its resend, unique
per selection (``fingerprint``): the same selection run again finds the
item and sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import notifications.models  # noqa: F401  (registers the tables referred to here)
from core.db import Base, BigId, UTCDateTime


class BulkResendRun(Base):
    __tablename__ = "bulk_resend_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: SHA-256 of the selection and the county: the same selection, the same fingerprint.
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"))
    #: The selection as chosen (times in UTC ISO format, ids, codes).
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    resent: Mapped[int] = mapped_column(Integer, default=0)
    #: Skipped: {"already_resent": n, "appointment_passed": n, "appointment_cancelled": n, ...}
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BulkResendItem(Base):
    """One original sent again by a run."""

    __tablename__ = "bulk_resend_items"
    __table_args__ = (UniqueConstraint("fingerprint", "original_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("bulk_resend_runs.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    original_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    resend_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
