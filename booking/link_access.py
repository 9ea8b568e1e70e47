"""Who may still follow a link that works without login (an SMS link, a
calendar file, directions): the rule, in one place.

A link is a key held by the person it was given to: the patient, or a
guardian who got the SMS or opened the appointment page. It shows the
appointment only while that person may still see it under the
representation rules (:mod:`booking.representation`) on the day it is
followed: a guardian whose child got a confidential address, turned 16, or
whose parental responsibility ended holds a dead link from that day on,
even if the appointment moved. When a link does not say whom it was given
to (links made before they named their holder), everyone it may have gone
to must still be entitled: the patient and each guardian on record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select

from booking.models import Guardianship
from booking.relations import RelationsSource, guardian_children
from booking.representation import Access
from core.db import Database


async def may_follow(source: RelationsSource, holder_id: int, patient_id: int,
                     today: date) -> bool:
    """May ``holder_id`` see ``patient_id``'s appointment through a link today?"""
    if holder_id == patient_id:
        return True
    children = await guardian_children(source, holder_id, today)
    return any(c.patient_id == patient_id and c.access is not Access.NONE for c in children)


async def all_may_follow(source: RelationsSource, holder_ids: Iterable[int], patient_id: int,
                         today: date) -> bool:
    """Every one of ``holder_ids`` may (none at all: nobody holds it)."""
    holders = set(holder_ids)
    if not holders:
        return False
    for holder in sorted(holders):
        if not await may_follow(source, holder, patient_id, today):
            return False
    return True


async def possible_holders(db: Database, patient_id: int) -> set[int]:
    """Whoever a link about ``patient_id``'s appointment may have been given
    to, when the link does not say: the patient and each guardian on record."""
    async with db.read() as session:
        guardians = (await session.execute(select(Guardianship.guardian_id).where(
            Guardianship.child_id == patient_id))).scalars().all()
    return {patient_id, *guardians}
