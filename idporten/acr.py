"""Levels of assurance (``acr``): policy data in one small pure module.

ID-porten's levels, lowest first (docs.digdir.no, oidc_protocol_id_token):
``idporten-loa-low`` (no eID at this level today), ``idporten-loa-substantial``
(MinID; the old "Level3") and ``idporten-loa-high`` (BankID, Buypass,
Commfides; the old "Level4"). A required level is satisfied by itself or any
higher one. Legacy names are translated, as Wonderwall does.
"""

from __future__ import annotations

from typing import Final

SUBSTANTIAL: Final = "idporten-loa-substantial"
HIGH: Final = "idporten-loa-high"

#: Known levels, lowest first.
ORDER: Final = ("idporten-loa-low", SUBSTANTIAL, HIGH)
_LEGACY: Final = {"Level3": SUBSTANTIAL, "Level4": HIGH}


def normalise(value: str | None) -> str | None:
    """The current name of a level, or None for anything unknown."""
    if value is None:
        return None
    value = _LEGACY.get(value, value)
    return value if value in ORDER else None


def satisfies(actual: str | None, required: str) -> bool:
    """Does a login at ``actual`` meet ``required``? Unknown levels never do."""
    have, need = normalise(actual), normalise(required)
    if have is None or need is None:
        return False
    return ORDER.index(have) >= ORDER.index(need)


def request_value(wanted: str, supported: tuple[str, ...]) -> str:
    """The ``acr_values`` to ask for: ``wanted``, unless the provider lists its
    supported levels and ``wanted`` is not among them (then the lowest supported
    level that still satisfies it, else ``wanted`` all the same: the token's
    ``acr`` is checked either way)."""
    if not supported or wanted in supported:
        return wanted
    for level in ORDER:
        if level in supported and satisfies(level, wanted):
            return level
    return wanted
