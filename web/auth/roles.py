"""Staff roles: a closed vocabulary (stored as text, kept closed by a CHECK
constraint on ``staff_users.role``)."""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    CLINIC_ADMIN = "clinic_admin"  # runs one or more clinics' schedules
    RECEPTION = "reception"  # books and changes appointments at their clinics
    SUPPORT = "support"  # the county's user support: helps patients on the phone
    COUNTY_ADMIN = "county_admin"  # the county's administrators


#: Roles whose scope is every clinic of their county; the others act only for
#: the clinics named for them.
COUNTY_WIDE = frozenset({StaffRole.SUPPORT, StaffRole.COUNTY_ADMIN})


def parse_roles(values: object) -> frozenset[StaffRole]:
    """Known roles in a claim value (a list or a space-separated string);
    anything else is ignored."""
    if isinstance(values, str):
        values = values.split()
    if not isinstance(values, list | tuple):
        return frozenset()
    known = {role.value for role in StaffRole}
    return frozenset(StaffRole(v) for v in values if isinstance(v, str) and v in known)
