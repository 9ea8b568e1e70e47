"""The population register as the login asks it: the registered name and
birth date of a person logging in for the first time, and a fresh look at
their relations at each login. :class:`registers.person_api.PersonApiRegister`
is the production implementation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class RegisterPerson:
    given_name: str
    family_name: str
    birth_date: date


class RegisterUnavailable(RuntimeError):
    """The register could not be asked (the message never holds a number)."""


class PopulationRegister(Protocol):
    async def person(self, identity_number: str) -> RegisterPerson | None:
        """The registered person, or None when the register does not know
        them. Raises :class:`RegisterUnavailable` when it cannot be asked."""
        ...

    async def refresh_relations(self, patient_id: int) -> None:
        """Ask the register for the patient's relations now (they are copied
        into the local tables as a side effect)."""
        ...
