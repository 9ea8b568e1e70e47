"""Who can log in at the local test ID-porten: synthetic persons for patients
(as TestID lists them) and synthetic staff users. The application hands the
provider both (``LocalProvider(persons=..., staff_users=...)``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StaffTestUser:
    key: str
    name: str
    description: str  # Bokmål, as the login page shows it
    roles: tuple[str, ...]
    county: str
    clinics: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestPerson:
    key: str
    label: str
    description: str
    age: int | None
    number: str = field(repr=False)
