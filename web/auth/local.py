"""The local test ID-porten as this service mounts it (``/dev/idporten``):
its clients registered from the settings, the named demo persons on its login
page (:mod:`demo.people`), the synthetic staff users below, and the login
pages' layout. Never in production."""

from __future__ import annotations

from typing import Final

from core.settings import VAR, Settings, SettingsError
from core.tokens import derive_key
from demo.people import login_persons
from idporten.local_provider import LocalProvider, load_or_create_key
from idporten.local_users import StaffTestUser
from web.auth.config import local_clients, local_issuer
from web.auth.pages import render
from web.auth.roles import StaffRole

#: Synthetic staff users, among them one whose claims (wrongly) name a clinic
#: in another county.
STAFF_TEST_USERS: Final = (
    StaffTestUser("reception-grunerlokka", "Hanne Resepsjon", "Resepsjon, Grünerløkka (Oslo)",
                  (StaffRole.RECEPTION,), "03", ("tannklinikken-grunerlokka",)),
    StaffTestUser("clinic-admin-majorstuen", "Kåre Klinikkleder",
                  "Klinikkleder, Majorstuen (Oslo)", (StaffRole.CLINIC_ADMIN,), "03",
                  ("tannklinikken-majorstuen",)),
    StaffTestUser("support-oslo", "Siri Brukerstøtte", "Brukerstøtte, hele Oslo",
                  (StaffRole.SUPPORT,), "03"),
    StaffTestUser("county-admin-oslo", "Ola Fylkesadmin", "Fylkesadministrator, Oslo",
                  (StaffRole.COUNTY_ADMIN,), "03"),
    StaffTestUser("county-admin-rogaland", "Rune Fylkesadmin", "Fylkesadministrator, Rogaland",
                  (StaffRole.COUNTY_ADMIN,), "11"),
    StaffTestUser("reception-wrong-county", "Vera Resepsjon",
                  "Resepsjon i Oslo som også (feilaktig) oppgir en klinikk i Rogaland",
                  (StaffRole.RECEPTION,), "03",
                  ("tannklinikken-grunerlokka", "tannklinikken-stavanger-sentrum")),
)


def local_provider(settings: Settings) -> LocalProvider:
    """The provider for these settings; refuses in production. In dev its
    signing key is kept in ``var/`` so restarts keep sessions valid."""
    if settings.is_production:
        raise SettingsError("the local test ID-porten must never run in production")
    key_path = VAR / "local-idporten-key.pem" if settings.env == "dev" else None
    return LocalProvider(issuer=local_issuer(settings), clients=local_clients(settings),
                         key=load_or_create_key(key_path), render=render,
                         persons=login_persons, staff_users=STAFF_TEST_USERS,
                         # Every process of one installation gives a person the same sub.
                         pairwise_key=derive_key(settings.secret_key,
                                                 "local-idporten-pairwise-sub"))
