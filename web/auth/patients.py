"""From a validated ``pid`` to our patient: found by the keyed hash, or created
at first login. The identity number goes no further than this module and the
encrypted column.

Name and birth date of a new person come from the population register when a
:class:`~registers.population.PopulationRegister` is configured
(``app.state.population_register``); when it cannot be asked, the login is
refused as ``unavailable``. Without one, the name is what the ID token
carries (ID-porten sends none, so usually empty) and the birth date is read
from the number by the pre-2032 century rules, a stand-in that the
register's value replaces.

With a register, each login (the first one too) also asks it for the
person's relations (``PopulationRegister.refresh_relations``): that brings
the local guardianships in step with the register and warms the relations
cache for the first page. Its failure is logged, never a refusal.
"""

from __future__ import annotations

from datetime import date

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking import audit
from booking.audit import Actor
from booking.models import Patient
from booking.representation import may_log_in_self
from booking.rules import age_on
from core.db import Database
from core.identity import IdentityVault
from core.locale import LANGUAGES
from idporten.client import LoginFailed
from idporten.tokens import IDTokenClaims
from registers.population import PopulationRegister, RegisterUnavailable

log = structlog.get_logger(__name__)

LOCALES = LANGUAGES


def birth_date_from_number(number: str, today: date) -> date | None:
    """The birth date an identity number encodes (D-nummer: day + 40;
    synthetic: month + 80), century from the individual number as issued
    before 2032. None when the digits name no date."""
    day, month, yy, individual = (int(number[0:2]), int(number[2:4]), int(number[4:6]),
                                  int(number[6:9]))
    day -= 40 if day > 40 else 0
    month -= 80 if month > 80 else 40 if month > 40 else 0
    if individual <= 499:
        century = 1900
    elif individual <= 749 and yy >= 54:
        century = 1800
    elif yy <= 39:
        century = 2000
    else:
        century = 1900
    try:
        born = date(century + yy, month, day)
        if born > today:  # e.g. a number issued under the 2032 rules
            born = date(century + yy - 100, month, day)
    except ValueError:
        return None
    return born


async def patient_for_login(db: Database, vault: IdentityVault, claims: IDTokenClaims, *,
                            today: date, register: PopulationRegister | None = None) -> int:
    """The patient id for this login, creating the patient at first login.
    Refuses (``too_young``) a child under the age of self-login, and
    (``invalid_pid``) a number that names no date."""
    pid = claims.pid
    if not pid:
        raise LoginFailed("missing_pid")
    identity_hash = vault.lookup_hash(pid)
    async with db.read() as session:
        found = (await session.execute(
            select(Patient.id, Patient.birth_date).where(Patient.identity_hash == identity_hash)
        )).one_or_none()
    if found is not None:
        patient_id, birth_date = found
        if not may_log_in_self(age_on(birth_date, today)):
            raise LoginFailed("too_young")
        await _refresh_relations(register, int(patient_id))
        return int(patient_id)

    try:
        person = await register.person(pid) if register is not None else None
    except RegisterUnavailable as exc:
        raise LoginFailed("unavailable") from exc
    if person is not None:
        given, family, birth = person.given_name, person.family_name, person.birth_date
    else:
        given = _claim(claims, "given_name")
        family = _claim(claims, "family_name")
        guessed = birth_date_from_number(pid, today)
        if guessed is None:
            raise LoginFailed("invalid_pid")
        birth = guessed
    if not may_log_in_self(age_on(birth, today)):
        raise LoginFailed("too_young")
    try:
        async with db.write() as session:
            patient = Patient(identity_hash=identity_hash, identity_encrypted=vault.encrypt(pid),
                              given_name=given, family_name=family, birth_date=birth,
                              preferred_language=claims.locale if claims.locale in LOCALES
                              else None)
            session.add(patient)
            await session.flush()
            await audit.record(session, Actor.patient(patient.id), "patient.register",
                               purpose="first_login", subject_patient_id=patient.id)
            created = int(patient.id)
    except IntegrityError:
        # A second tab logged the same person in at the same moment: use theirs.
        async with db.read() as session:
            existing = (await session.execute(
                select(Patient.id).where(Patient.identity_hash == identity_hash)
            )).scalar_one()
        return int(existing)
    await _refresh_relations(register, created)
    return created


async def _refresh_relations(register: PopulationRegister | None, patient_id: int) -> None:
    if register is None:
        return
    try:
        await register.refresh_relations(patient_id)
    except Exception as exc:  # the login goes on; the next page asks again
        log.warning("login.relations_refresh_failed", patient_id=patient_id,
                    error=type(exc).__name__)


def _claim(claims: IDTokenClaims, name: str) -> str:
    value = claims.claims.get(name)
    return value[:200] if isinstance(value, str) else ""
