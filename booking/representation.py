"""Who may act for a child, and how much: the representation rules, in one place.

Pure functions over facts that have already been fetched (from the local
tables or the population register, see :mod:`booking.relations`): no
database, no clock of their own. The caller passes ``today``, the Europe/Oslo
date of the request (``booking.rules.local_date(now)``), and asks again at
every request, so a child who turns 12 or 16 today is treated by today's rule.

The rules (PRODUCT.md, "Representation"; research/tech.md §2):

* A guardian is a person with parental responsibility (*foreldreansvar*) for
  the child, as the population register states it. A parent without it gets
  nothing here (the register can be wrong, e.g. responsibility granted by a
  court judgment: the clinic is the manual route).
* Nobody with a confidential address (*fortrolig* or *strengt fortrolig*) is
  represented, and nobody with one represents anyone (Helsenorge's rule). The
  text shown for either case is the same neutral one: telling a parent that
  the child's address is protected could itself reveal what the protection
  is meant to hide.
* Under 12: full access, but only where at least one guardian with parental
  responsibility is registered at the child's address (Helsenorge's rule; the
  caller may turn the address requirement off with ``require_shared_address``).
  Confidential or unknown addresses never count as shared.
* 12–15: appointment logistics only (see :data:`CAPABILITIES`); what the young
  person keeps private from their guardians (pbrl § 3-4) is never shown.
* 16 and over: none. The young person is of age in health matters
  (*helserettslig myndig*, pbrl § 4-3). Access through the young person's own
  power of attorney (*fullmakt*, Helsenorge's personvernkomponent or
  ID-porten's representation pilot) is out of scope for this module.

Young people from 12 may log in themselves (:func:`may_log_in_self`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from booking.models import Patient
from booking.reasons import N_
from booking.rules import age_on
from booking.statuses import ConfidentialAddress

#: From this age guardians get appointment logistics only (pbrl § 3-4 (2)).
LOGISTICS_FROM_AGE = 12
#: From this age guardians get nothing (pbrl § 4-3: helserettslig myndig).
OF_AGE_IN_HEALTH_MATTERS = 16
#: From this age a young person may log in to the service themselves.
SELF_LOGIN_FROM_AGE = 12


class Access(StrEnum):
    """How much of a child's business a guardian may handle."""

    FULL = "full"
    LOGISTICS = "logistics"  # book, change, cancel, confirm, see times
    NONE = "none"


class Capability(StrEnum):
    """What a guardian may do for a child, by access level."""

    VIEW_TIMES = "view_times"  # upcoming and past times, clinic, kind of appointment
    BOOK = "book"
    CHANGE = "change"
    CANCEL = "cancel"
    CONFIRM = "confirm"
    #: Everything beyond logistics: messages from the clinic, contact settings,
    #: who has seen the child's data. Never what a clinician marked as hidden
    #: from guardians.
    VIEW_DETAILS = "view_details"


_LOGISTICS = frozenset({Capability.VIEW_TIMES, Capability.BOOK, Capability.CHANGE,
                        Capability.CANCEL, Capability.CONFIRM})
CAPABILITIES: dict[Access, frozenset[Capability]] = {
    Access.FULL: frozenset(Capability),
    Access.LOGISTICS: _LOGISTICS,
    Access.NONE: frozenset(),
}


def allows(access: Access, capability: Capability) -> bool:
    """Does ``access`` include ``capability``?"""
    return capability in CAPABILITIES[access]


class RepresentationReason(StrEnum):
    """Why a guardian may not act for a child. Codes are for logs and audit
    details; :data:`REPRESENTATION_REASON_TEXT` is for people."""

    NO_PARENTAL_RESPONSIBILITY = "no_parental_responsibility"
    CHILD_CONFIDENTIAL_ADDRESS = "child_confidential_address"
    GUARDIAN_CONFIDENTIAL_ADDRESS = "guardian_confidential_address"
    CHILD_OF_AGE_IN_HEALTH_MATTERS = "child_of_age_in_health_matters"
    NO_GUARDIAN_AT_CHILD_ADDRESS = "no_guardian_at_child_address"


_NEUTRAL = N_("You cannot act for this child online. Please contact the clinic.")

REPRESENTATION_REASON_TEXT: dict[str, str] = {
    RepresentationReason.NO_PARENTAL_RESPONSIBILITY: N_(
        "The population register does not show that you have parental responsibility "
        "for this child. If you do, please contact the clinic."),
    # Both confidential-address cases say the same thing on purpose.
    RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS: _NEUTRAL,
    RepresentationReason.GUARDIAN_CONFIDENTIAL_ADDRESS: _NEUTRAL,
    RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS: N_(
        "From the age of 16, young people decide about their own health care. "
        "They can log in and manage their appointments themselves."),
    RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS: N_(
        "You cannot act for this child online, because no parent with parental "
        "responsibility is registered at the child's address. Please contact the clinic."),
}


@dataclass(frozen=True)
class PersonFacts:
    """What the rules need to know about one person.

    ``patient_id`` is the local patient id, or ``None`` for a person the
    service has no record of (possible for a child's other guardian).
    ``address_key`` is an opaque key of the registered address: equal keys
    mean the same address; ``None`` means unknown.
    """

    patient_id: int | None
    birth_date: date
    address_key: str | None = None
    confidential_address: ConfidentialAddress = ConfidentialAddress.NONE

    @property
    def has_confidential_address(self) -> bool:
        return self.confidential_address is not ConfidentialAddress.NONE

    @property
    def usable_address_key(self) -> str | None:
        """The address key for comparisons: never a confidential address."""
        return None if self.has_confidential_address else self.address_key

    @classmethod
    def from_patient(cls, patient: Patient) -> PersonFacts:
        return cls(patient.id, patient.birth_date, patient.address_key,
                   ConfidentialAddress(patient.confidential_address))


@dataclass(frozen=True)
class ChildRelation:
    """One child of a guardian, as the relations source states it.

    ``guardian`` is the asking guardian's own facts from the same source;
    ``other_guardians`` are the child's other persons with parental
    responsibility (only their address facts matter here);
    ``parental_responsibility`` is whether ``guardian`` has it for this child
    (a parent can be registered without it).
    """

    guardian: PersonFacts
    child: PersonFacts
    other_guardians: tuple[PersonFacts, ...] = ()
    parental_responsibility: bool = True

    @property
    def child_id(self) -> int:
        assert self.child.patient_id is not None, "a related child must be a local patient"
        return self.child.patient_id


@dataclass(frozen=True)
class RepresentationDecision:
    """The outcome for one guardian and one child on one day. Truthy when
    the guardian may handle the child's appointments at all."""

    access: Access
    child_age: int
    reason: RepresentationReason | None = None

    def __bool__(self) -> bool:
        return self.access is not Access.NONE

    @property
    def text(self) -> str | None:
        """The reason's untranslated text (translate where shown), if refused."""
        return REPRESENTATION_REASON_TEXT[self.reason] if self.reason else None

    def allows(self, capability: Capability) -> bool:
        return allows(self.access, capability)


def _none(age: int, reason: RepresentationReason) -> RepresentationDecision:
    return RepresentationDecision(Access.NONE, age, reason)


def guardian_access(*, guardian: PersonFacts, child: PersonFacts, today: date,
                    other_guardians: Iterable[PersonFacts] = (),
                    parental_responsibility: bool = True,
                    require_shared_address: bool = True) -> RepresentationDecision:
    """How much ``guardian`` may do for ``child`` on ``today`` (Europe/Oslo).

    ``other_guardians`` are the child's other persons with parental
    responsibility: the under-12 rule asks whether *at least one* of all the
    child's guardians shares the child's registered address, so a guardian
    living elsewhere still gets full access when the other one lives with
    the child.
    """
    age = age_on(child.birth_date, today)
    if not parental_responsibility:
        return _none(age, RepresentationReason.NO_PARENTAL_RESPONSIBILITY)
    if child.has_confidential_address:
        return _none(age, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS)
    if guardian.has_confidential_address:
        return _none(age, RepresentationReason.GUARDIAN_CONFIDENTIAL_ADDRESS)
    if age >= OF_AGE_IN_HEALTH_MATTERS:
        return _none(age, RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS)
    if age >= LOGISTICS_FROM_AGE:
        return RepresentationDecision(Access.LOGISTICS, age)
    if require_shared_address and not shares_address(child, [guardian, *other_guardians]):
        return _none(age, RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS)
    return RepresentationDecision(Access.FULL, age)


def shares_address(child: PersonFacts, guardians: Iterable[PersonFacts]) -> bool:
    """Is at least one of ``guardians`` registered at the child's address?
    Unknown and confidential addresses never match."""
    key = child.usable_address_key
    if key is None:
        return False
    return any(g.usable_address_key == key for g in guardians)


def decide(relation: ChildRelation, today: date, *,
           require_shared_address: bool = True) -> RepresentationDecision:
    """:func:`guardian_access` for one :class:`ChildRelation`."""
    return guardian_access(guardian=relation.guardian, child=relation.child, today=today,
                           other_guardians=relation.other_guardians,
                           parental_responsibility=relation.parental_responsibility,
                           require_shared_address=require_shared_address)


@dataclass(frozen=True)
class RepresentedChild:
    """One of a guardian's children with today's decision."""

    child: PersonFacts
    decision: RepresentationDecision

    @property
    def patient_id(self) -> int:
        assert self.child.patient_id is not None
        return self.child.patient_id

    @property
    def access(self) -> Access:
        return self.decision.access

    @property
    def reason(self) -> RepresentationReason | None:
        return self.decision.reason


def represented_children(relations: Iterable[ChildRelation], today: date, *,
                         require_shared_address: bool = True) -> list[RepresentedChild]:
    """Each of a guardian's children with its access and reason, oldest first.
    Children with :attr:`Access.NONE` are included (with the reason), so the
    page can say why; a child with a confidential address should be shown
    with the neutral text only, and nothing else about the child."""
    result = [RepresentedChild(r.child, decide(r, today,
                                               require_shared_address=require_shared_address))
              for r in relations if r.child.patient_id is not None]
    result.sort(key=lambda c: (c.child.birth_date, c.patient_id))
    return result


def may_log_in_self(age: int) -> bool:
    """Young people from 12 may log in to the service themselves."""
    return age >= SELF_LOGIN_FROM_AGE
