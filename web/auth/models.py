"""Tables of the login side: server-side sessions and the local staff register.

In ``core.db.Base``'s metadata, so migrations and ``create_all`` see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime, check_constraint, utcnow
from web.auth.roles import StaffRole


class AuthSession(Base):
    """A login session. The browser holds a random id; this row is keyed by
    that id's SHA-256, so a copy of the table gives no usable cookie. The ID
    token (for ``id_token_hint`` at logout) is stored encrypted."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('patient', 'staff')", name="kind"),
        Index("ix_auth_sessions_issuer_sid", "issuer", "sid"),
    )
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    issuer: Mapped[str] = mapped_column(String(300))
    #: The provider's session id, for front-channel logout.
    sid: Mapped[str | None] = mapped_column(String(200), default=None)
    patient_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="CASCADE"), default=None, index=True)
    #: acr, amr, locale; for staff their subject, name, roles, county and clinics.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    id_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: created_at + the absolute limit; for purging.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StaffUser(Base):
    """A county employee known to the local staff register. When a staff
    member logs in, a row here (matched by issuer and subject) decides their
    role and scope; without one, the identity provider's claims do."""

    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),
        CheckConstraint(check_constraint("role", StaffRole), name="role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"), index=True)
    #: For clinic-bound roles: the clinics (ids) they act for, all in their county.
    clinic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
