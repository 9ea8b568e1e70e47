"""Tables of the county administrators' oversight.

``staff_directory``: every staff member who has logged in, with their county,
role and clinics as of their latest login; the audit log names staff only by
their actor id, and this is how an administrator's view knows which staff
belong to their county and what they are called.

``audit_verifications``: each verification of the audit chains
(:func:`booking.audit.verify`) and its result, for "last verified".

``access_reviews``: an administrator's review of one staff look-up of a
patient (helsepersonelloven § 21, pasientjournalloven § 22), with a note.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

import booking.models  # noqa: F401  (registers the tables referred to here)
from core.db import Base, BigId, UTCDateTime


class StaffDirectoryEntry(Base):
    __tablename__ = "staff_directory"
    #: ``staff:<subject>``, as in the audit log's ``actor_id``.
    actor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The clinics a clinic-bound role acted for (county-wide roles: empty).
    clinic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditVerification(Base):
    __tablename__ = "audit_verifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(64))
    intact: Mapped[bool] = mapped_column(Boolean)
    entries: Mapped[int] = mapped_column(BigId)
    chains: Mapped[int] = mapped_column(Integer)
    seals: Mapped[int] = mapped_column(Integer)
    first_broken_id: Mapped[int | None] = mapped_column(BigId, default=None)
    first_broken_seal_id: Mapped[int | None] = mapped_column(BigId, default=None)
    cut_chains: Mapped[list[str]] = mapped_column(JSON, default=list)


class AccessReview(Base):
    __tablename__ = "access_reviews"
    audit_entry_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"), primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"), index=True)
    reviewed_by: Mapped[str] = mapped_column(String(64))
    reviewed_by_name: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500))
