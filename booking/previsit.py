"""The pre-visit form (*egenerklæring om helse*): the few health questions a
clinic asks before a visit, answered online instead of on paper.

Who fills it in follows the representation rules (:mod:`booking.representation`)
on the day of the request, decided here in one pure function
(:func:`who_fills`): a guardian for a child under 12; from 12 the young person
themself, and a guardian can then neither fill it in nor read it (pbrl § 3-4);
from 16 only the young person (guardians have no access at all).

The answers are stored encrypted (Fernet, as identity numbers are, under a key
derived from the service's secret for this use only, :func:`core.tokens.derive_key`)
and belong to the appointment's chain (``chain_id``): a changed appointment
keeps its form. They can be changed until the appointment starts, are shown to
the staff of the appointment's clinic (every view audited) and are deleted
``PREVISIT_RETENTION_DAYS`` after the appointment (:func:`delete_expired`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ForeignKey, LargeBinary, String, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, Patient
from booking.reasons import N_
from booking.representation import Access
from booking.statuses import ACTIVE, AppointmentStatus
from core.db import Base, BigId, Database, UTCDateTime
from core.locale import OSLO
from core.tokens import derive_key

#: The label of the answers' key (one use of the service's secret).
KEY_LABEL: Final = "tanntid: pre-visit form answers"
#: The longest text kept in one "which / what" field.
DETAIL_LIMIT: Final = 250
#: Default of ``PREVISIT_RETENTION_DAYS``.
DEFAULT_RETENTION_DAYS: Final = 30

SAVED_ACTION: Final = "previsit.saved"
VIEW_ACTION: Final = "previsit.view"
STAFF_VIEW_ACTION: Final = "previsit.staff_view"
STAFF_REFUSED_ACTION: Final = "previsit.staff_refused"
STAFF_LIST_ACTION: Final = "previsit.staff_list"
PATIENT_PURPOSE: Final = "previsit_form"
STAFF_PURPOSE: Final = "treatment"


class PrevisitForm(Base):
    """One appointment chain's answers, encrypted."""

    __tablename__ = "previsit_forms"
    #: The first appointment of the chain (``Appointment.chain_id``).
    chain_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    #: The appointment the answers were last saved for.
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    answers: Mapped[bytes] = mapped_column(LargeBinary)
    saved_by: Mapped[str] = mapped_column(String(64))  # internal actor id
    saved_by_kind: Mapped[str] = mapped_column(String(16))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the chain's appointment ends: the answers are deleted the
    #: retention after it (moved on when the appointment has moved later).
    visit_ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- who fills it in ------------------------------------------------------------

class FillRefusal(StrEnum):
    """Why this person cannot fill in (or read) the form."""

    YOUNG_PERSON_FILLS = "young_person_fills"  # a guardian, child 12–15
    GUARDIAN_FILLS = "guardian_fills"  # a child under 12 logged in themself
    NO_ACCESS = "no_access"
    CLOSED = "closed"  # started, cancelled or over


REFUSAL_TEXT: Final[dict[str, str]] = {
    FillRefusal.YOUNG_PERSON_FILLS: N_(
        "From the age of 12, young people fill in the health form themselves, and "
        "their answers are not shown to their guardians. They can log in and do it."),
    FillRefusal.GUARDIAN_FILLS: N_(
        "For children under 12, a parent or guardian fills in the health form."),
    FillRefusal.NO_ACCESS: N_("You cannot fill in this health form."),
    FillRefusal.CLOSED: N_(
        "The health form can be filled in and changed until the appointment starts."),
}

#: Under this age a guardian fills in the form; from it the young person does.
OWN_FORM_FROM_AGE: Final = 12


def who_fills(*, for_child: bool, access: Access, age: int) -> FillRefusal | None:
    """None when the person acting may fill in and read the form of the
    subject (``for_child``: a guardian acting with ``access`` for a child of
    ``age`` on today's Oslo date); else why not."""
    if for_child:
        if access is Access.FULL and age < OWN_FORM_FROM_AGE:
            return None
        if access is Access.LOGISTICS:
            return FillRefusal.YOUNG_PERSON_FILLS
        return FillRefusal.NO_ACCESS
    return None if age >= OWN_FORM_FROM_AGE else FillRefusal.GUARDIAN_FILLS


#: The county setting (a key of ``County.quiet_hours``) naming the clinics
#: that use the form: ``true`` (all, the default), ``false`` (none), or a
#: list of clinic slugs.
CLINICS_SETTING: Final = "previsit_form"


def clinic_uses_form(county_settings: Mapping[str, Any] | None, clinic_slug: str) -> bool:
    """Does the clinic ask for the pre-visit form (so reminders link to it)?
    By the county's ``previsit_form`` setting (:data:`CLINICS_SETTING`); yes
    when it is not set. Anything but ``false`` or a list counts as yes."""
    value = (county_settings or {}).get(CLINICS_SETTING, True)
    if value is False:
        return False
    if isinstance(value, list):
        return clinic_slug in value
    return True


def is_open(appointment: Appointment, now: datetime) -> bool:
    """The form can be filled in or changed while the appointment is live and
    has not started."""
    return appointment.status in ACTIVE and now < appointment.starts_at


# --- the answers ------------------------------------------------------------------

class Field(StrEnum):
    MEDICINES = "medicines"
    ALLERGIES = "allergies"
    HEALTH_CHANGED = "health_changed"
    CONTACT_DOCTOR = "contact_doctor"
    CONFIRM = "confirm"


#: The yes/no questions that have a "which / what" text when the answer is yes.
WITH_DETAIL: Final = (Field.MEDICINES, Field.ALLERGIES, Field.HEALTH_CHANGED)

FIELD_ERRORS: Final[dict[str, str]] = {
    "choose": N_("Answer yes or no."),
    "detail_required": N_("Write what it is, in a few words."),
    "too_long": N_("Write at most 250 characters."),
    "confirm": N_("Confirm that the answers are correct."),
}


@dataclass(frozen=True)
class Answers:
    medicines: bool
    medicines_detail: str
    allergies: bool
    allergies_detail: str
    health_changed: bool
    health_changed_detail: str
    #: Consent: the clinic may contact the regular GP (fastlege) about the answers.
    contact_doctor: bool

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Answers:
        data = json.loads(raw)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


class InvalidAnswers(ValueError):
    """Field name → error code (a :data:`FIELD_ERRORS` key); nothing saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


def _clean(text: str) -> str:
    """Text without control characters other than line breaks, trimmed."""
    return "".join(c for c in text if c in "\n\t" or c.isprintable()).strip()


def parse_answers(form: Mapping[str, str]) -> Answers:
    """The answers from a submitted form, or :class:`InvalidAnswers`."""
    errors: dict[str, str] = {}
    values: dict[str, bool | str] = {}
    for name in (*WITH_DETAIL, Field.CONTACT_DOCTOR):
        raw = form.get(name, "")
        if raw not in ("yes", "no"):
            errors[name] = "choose"
            continue
        values[name] = raw == "yes"
    for name in WITH_DETAIL:
        detail = _clean(form.get(f"{name}_detail", ""))
        if len(detail) > DETAIL_LIMIT:
            errors[f"{name}_detail"] = "too_long"
        elif values.get(name) is True and not detail:
            errors[f"{name}_detail"] = "detail_required"
        values[f"{name}_detail"] = detail if values.get(name) is True else ""
    if form.get(Field.CONFIRM) != "1":
        errors[Field.CONFIRM] = "confirm"
    if errors:
        raise InvalidAnswers(errors)
    return Answers(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FormCipher:
    """Encrypts and decrypts answers with the service's key for this use."""

    fernet: Fernet

    @classmethod
    def from_secret(cls, secret: str) -> FormCipher:
        return cls(Fernet(base64.urlsafe_b64encode(derive_key(secret, KEY_LABEL))))

    def seal(self, answers: Answers) -> bytes:
        return self.fernet.encrypt(answers.to_json())

    def open(self, token: bytes) -> Answers | None:
        """The answers; None if the key has changed since they were saved."""
        try:
            return Answers.from_json(self.fernet.decrypt(token))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class SavedForm:
    answers: Answers | None  # None: unreadable (the service's key changed)
    saved_at: datetime
    saved_by_kind: str


def chain_of(appointment: Appointment) -> int:
    return appointment.chain_id or appointment.id


async def load(db: Database, cipher: FormCipher, appointment: Appointment) -> SavedForm | None:
    async with db.read() as session:
        row = await session.get(PrevisitForm, chain_of(appointment))
    if row is None:
        return None
    return SavedForm(cipher.open(row.answers), row.saved_at, row.saved_by_kind)


class FormClosed(Exception):
    """The appointment started, was cancelled or is over; nothing saved."""


async def save(db: Database, cipher: FormCipher, actor: Actor, appointment_id: int,
               answers: Answers, *, now: datetime) -> None:
    """Save (or replace) the answers of the appointment's chain, audited.
    The appointment is read again in the transaction: if it has started or
    is no longer live, :class:`FormClosed` and nothing is saved. Two saves at
    once both succeed, the later one's answers stay (one row per chain)."""
    async with db.write() as session:
        appointment = await session.get(Appointment, appointment_id)
        if appointment is None or not is_open(appointment, now):
            raise FormClosed
        values = dict(chain_id=chain_of(appointment), appointment_id=appointment.id,
                      patient_id=appointment.patient_id, answers=cipher.seal(answers),
                      saved_by=actor.id, saved_by_kind=actor.kind.value, saved_at=now,
                      visit_ends_at=appointment.ends_at)
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(PrevisitForm).values(**values)
        await session.execute(statement.on_conflict_do_update(
            index_elements=["chain_id"],
            set_={k: v for k, v in values.items() if k != "chain_id"}))
        await audit.record(session, actor, SAVED_ACTION, purpose=PATIENT_PURPOSE,
                           subject_patient_id=appointment.patient_id,
                           on_behalf_of_id=(appointment.patient_id
                                            if actor.patient_id != appointment.patient_id
                                            else None),
                           detail={"appointment_id": appointment.id}, now=now)


async def record_patient_view(session: AsyncSession, actor: Actor, appointment: Appointment,
                              now: datetime) -> None:
    """A guardian's reading of a child's saved answers (a patient's own are not
    audited, as elsewhere)."""
    if actor.patient_id == appointment.patient_id:
        return
    await audit.record(session, actor, VIEW_ACTION, purpose=PATIENT_PURPOSE,
                       subject_patient_id=appointment.patient_id,
                       on_behalf_of_id=appointment.patient_id,
                       detail={"appointment_id": appointment.id}, now=now)


# --- staff -----------------------------------------------------------------------

async def staff_view(db: Database, cipher: FormCipher, actor: Actor, clinic_id: int,
                     appointment_id: int, now: datetime) -> tuple[Appointment, SavedForm | None]:
    """The appointment and its form for staff of ``clinic_id``; every view is
    audited. An appointment of another clinic, or a clinic outside the
    actor's scope, raises :class:`LookupError` after an audit entry."""
    async with db.write() as session:
        appointment = await session.get(Appointment, appointment_id)
        refused = (appointment is None or appointment.clinic_id != clinic_id
                   or clinic_id not in actor.clinic_ids)
        if refused:
            await audit.record(session, actor, STAFF_REFUSED_ACTION, purpose=STAFF_PURPOSE,
                               subject_patient_id=appointment.patient_id if appointment else None,
                               detail={"appointment_id": appointment_id,
                                       "clinic_id": clinic_id}, now=now)
    if refused or appointment is None:  # the refusal is committed first
        raise LookupError(appointment_id)
    async with db.write() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None  # appointments are never deleted
        row = await session.get(PrevisitForm, chain_of(appointment))
        await audit.record(session, actor, STAFF_VIEW_ACTION, purpose=STAFF_PURPOSE,
                           subject_patient_id=appointment.patient_id,
                           detail={"appointment_id": appointment.id,
                                   "form": row is not None}, now=now)
        await session.refresh(appointment, ["patient", "clinic", "appointment_type"])
    saved = (SavedForm(cipher.open(row.answers), row.saved_at, row.saved_by_kind)
             if row is not None else None)
    return appointment, saved


@dataclass(frozen=True)
class FilledLine:
    appointment_id: int
    starts_at: datetime
    patient_id: int
    patient_name: str
    birth_date: date
    saved_at: datetime


async def clinic_forms(db: Database, actor: Actor, clinic_id: int, now: datetime,
                       days: int = 7) -> list[FilledLine]:
    """The clinic's live appointments from today (Oslo) to ``days`` ahead that
    have a filled-in form, without the answers; the listing is audited once
    per patient listed. The caller has checked that the clinic is in the
    actor's scope."""
    start = datetime.combine(now.astimezone(OSLO).date(), time(0), tzinfo=OSLO)
    async with db.write() as session:
        rows = (await session.execute(
            select(Appointment, Patient, PrevisitForm.saved_at)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(PrevisitForm, PrevisitForm.chain_id
                  == func.coalesce(Appointment.chain_id, Appointment.id))
            .where(Appointment.clinic_id == clinic_id,
                   Appointment.status.in_(list(ACTIVE)),
                   Appointment.starts_at >= start,
                   Appointment.starts_at < start + timedelta(days=days + 1))
            .order_by(Appointment.starts_at, Appointment.id))).all()
        for patient_id in sorted({p.id for _, p, _ in rows}):
            await audit.record(session, actor, STAFF_LIST_ACTION, purpose=STAFF_PURPOSE,
                               subject_patient_id=patient_id,
                               detail={"clinic_id": clinic_id}, now=now)
    return [FilledLine(a.id, a.starts_at, p.id, f"{p.given_name} {p.family_name}",
                       p.birth_date, saved_at) for a, p, saved_at in rows]


# --- retention -------------------------------------------------------------------

async def delete_expired(db: Database, now: datetime, retention: timedelta,
                         batch: int = 500) -> int:
    """Delete forms whose appointment ended more than ``retention`` ago (the
    setting as it is now). A form whose chain has since moved to a later live
    appointment is kept, with the new end. Returns how many were deleted."""
    cutoff = now - retention
    async with db.write() as session:
        due = list((await session.execute(
            select(PrevisitForm.chain_id).where(PrevisitForm.visit_ends_at <= cutoff)
            .order_by(PrevisitForm.chain_id).limit(batch))).scalars())
        if not due:
            return 0
        chain = func.coalesce(Appointment.chain_id, Appointment.id)
        latest: dict[int, datetime] = {
            chain_id: ends for chain_id, ends in (await session.execute(
                select(chain, func.max(Appointment.ends_at))
                .where(or_(Appointment.chain_id.in_(due), Appointment.id.in_(due)),
                       Appointment.status != AppointmentStatus.CANCELLED)
                .group_by(chain))).all()}
        gone = []
        for chain_id in due:
            ends = latest.get(chain_id)
            if ends is not None and ends > cutoff:
                await session.execute(update(PrevisitForm).where(
                    PrevisitForm.chain_id == chain_id).values(visit_ends_at=ends))
            else:
                gone.append(chain_id)
        if gone:
            await session.execute(delete(PrevisitForm).where(PrevisitForm.chain_id.in_(gone)))
    return len(gone)
