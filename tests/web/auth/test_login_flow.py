"""The patient login flow against the local ID-porten, in-process: what a
successful login leaves behind, and that every refusal shows a clear page
and creates no session."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from booking.models import AuditEntry, Patient
from demo.people import demo_logins
from idporten.local_provider import s256
from tests import factories
from tests.factories import VAULT
from tests.idporten.forgeries import hs256_with_public_key, unsigned_token
from tests.web.auth.helpers import (
    ADULT_PID,
    CHILD_PID,
    browser,
    build_app,
    form_action,
    form_fields,
    headless,
    login,
    path_of,
    provider_of,
    query_of,
    set_cookie_header,
    start_login,
)
from web.auth.config import local_client_secret
from web.auth.models import AuthSession
from web.auth.services import install, services, shutdown
from web.auth.sessions import RedisSessionStore

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def count_sessions(app) -> int:
    async with app.state.db.read() as session:
        return (await session.execute(select(func.count()).select_from(AuthSession))).scalar_one()


async def count_patients(app) -> int:
    async with app.state.db.read() as session:
        return (await session.execute(select(func.count()).select_from(Patient))).scalar_one()


async def assert_refused(response, app, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert "Login not completed" in response.text
    assert not any(h.startswith("tanntid-session=") and not h.startswith('tanntid-session=""')
                   for h in response.headers.get_list("set-cookie"))
    assert await count_sessions(app) == 0


# --- success ----------------------------------------------------------------------

async def test_headless_login_creates_the_patient_and_a_session(app, client):
    response = await login(client)
    assert response.status_code == 303 and response.headers["location"] == "/min-side"
    me = await client.get("/test/me")
    assert me.status_code == 200
    patient_id = me.json()["patient_id"]
    async with app.state.db.read() as session:
        patient = await session.get(Patient, patient_id)
        assert patient is not None
        assert bytes(patient.identity_hash) == app.state.vault.lookup_hash(ADULT_PID)
        assert patient.birth_date == date(1980, 5, 17)
        row = (await session.execute(select(AuthSession))).scalar_one()
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert row.patient_id == patient_id and row.sid
    # The session keeps no identity number, and the ID token only encrypted.
    assert ADULT_PID not in repr(row.data) and ADULT_PID.encode() not in row.id_token_encrypted
    assert actions == ["patient.register"]


async def test_a_known_patient_is_found_not_created(app, client, db):
    async with db.write() as session:
        known = await factories.patient(session, identity_number=ADULT_PID,
                                        birth_date=date(1980, 5, 17))
    app.state.vault = VAULT
    await login(client)
    assert (await client.get("/test/me")).json()["patient_id"] == known.id
    assert await count_patients(app) == 1


async def test_par_sends_only_client_id_and_request_uri_through_the_browser(client):
    authorize, _ = await start_login(client)
    assert set(query_of(authorize)) == {"client_id", "request_uri"}


async def test_without_par_the_request_carries_pkce_state_nonce_acr_and_locale(app, client):
    provider_of(app).advertise_par = False
    client.browser_cookies.set("lang", "nn", domain="127.0.0.1")
    authorize, _ = await start_login(client)
    params = query_of(authorize)
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["acr_values"] == "idporten-loa-substantial"
    assert params["ui_locales"] == "nn" and params["scope"] == "openid profile"
    assert params["state"] and params["nonce"] and params["state"] != params["nonce"]
    # The whole login still works without PAR.
    response = await client.get(path_of(await headless(client, authorize, ADULT_PID)))
    assert response.status_code == 303


async def test_state_and_nonce_are_new_for_every_login(app, client):
    provider_of(app).advertise_par = False
    first, _ = await start_login(client)
    second, _ = await start_login(client)
    assert query_of(first)["state"] != query_of(second)["state"]
    assert query_of(first)["nonce"] != query_of(second)["nonce"]


async def test_login_through_the_form_with_a_demo_person_at_high_level(client):
    authorize, _ = await start_login(client)
    page = await client.get(path_of(authorize))
    assert page.status_code == 200 and "Astrid Nilsen" in page.text
    person = next(p for p in demo_logins(date.today()) if p.person.key == "adult-oslo")
    assert person.identity_number in page.text  # shown on the page, like TestID
    submitted = await client.post(form_action(page.text), data={
        **form_fields(page.text), "person": "adult-oslo", "level": "idporten-loa-high"})
    assert submitted.status_code == 303
    response = await client.get(path_of(submitted.headers["location"]))
    assert response.status_code == 303
    assert (await client.get("/test/me")).json()["acr"] == "idporten-loa-high"


async def test_login_through_the_form_with_a_typed_number(client):
    authorize, _ = await start_login(client)
    page = await client.get(path_of(authorize))
    submitted = await client.post(form_action(page.text), data={
        **form_fields(page.text), "login": "pid", "pid": ADULT_PID,
        "level": "idporten-loa-substantial"})
    response = await client.get(path_of(submitted.headers["location"]))
    assert response.status_code == 303
    assert (await client.get("/test/me")).status_code == 200


async def test_the_form_refuses_a_real_looking_number(client):
    authorize, _ = await start_login(client)
    page = await client.get(path_of(authorize))
    again = await client.post(form_action(page.text), data={
        **form_fields(page.text), "login": "pid", "pid": "15108695088"})
    assert again.status_code == 400 and "synthetic identity number" in again.text


async def test_a_new_session_id_at_every_login(app, client):
    first = await login(client)
    old = set_cookie_header(first, "tanntid-session").split(";")[0]
    second = await login(client)
    new = set_cookie_header(second, "tanntid-session").split(";")[0]
    assert old != new
    assert await count_sessions(app) == 1  # the old session ended
    client.browser_cookies.clear()
    stale = await client.get("/test/me", headers={"Cookie": old})
    assert stale.status_code == 303
    assert (await client.get("/test/me", headers={"Cookie": new})).status_code == 200


async def test_cookie_flags(client):
    header = set_cookie_header(await login(client), "tanntid-session").lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" in header
    assert "path=/" in header and "max-age" not in header and "expires" not in header
    value = header.split(";")[0].split("=", 1)[1]
    assert len(value) >= 40 and ADULT_PID not in value


# --- refusals -------------------------------------------------------------------------

async def test_state_mismatch_is_refused(app, client):
    authorize, _ = await start_login(client)
    callback = await headless(client, authorize, ADULT_PID)
    params = query_of(callback)
    response = await client.get("/auth/callback", params={**params, "state": "forged"})
    await assert_refused(response, app)


async def test_issuer_mismatch_in_the_authorization_response_is_refused(app, client):
    authorize, _ = await start_login(client)
    params = query_of(await headless(client, authorize, ADULT_PID))
    response = await client.get("/auth/callback",
                                params={**params, "iss": "https://evil.example"})
    await assert_refused(response, app)


async def test_replayed_authorization_code_is_refused(app, client):
    authorize, _ = await start_login(client)
    callback = await headless(client, authorize, ADULT_PID)
    login_cookie = client.browser_cookies.get("tanntid-login")
    first = await client.get(path_of(callback))
    assert first.status_code == 303
    assert await count_sessions(app) == 1
    # An attacker replays the same callback, login cookie and all.
    async with browser("http://127.0.0.1:8000", httpx.ASGITransport(app=app)) as other:
        other.browser_cookies.set("tanntid-login", login_cookie, domain="127.0.0.1",
                                  path="/auth")
        replay = await other.get(path_of(callback))
    assert replay.status_code == 400 and "Login not completed" in replay.text
    assert await count_sessions(app) == 1


async def test_callback_without_the_login_cookie_is_refused(app, client):
    authorize, _ = await start_login(client)
    callback = await headless(client, authorize, ADULT_PID)
    client.browser_cookies.clear()
    await assert_refused(await client.get(path_of(callback)), app)


async def test_cancelling_at_the_provider_is_refused_politely(app, client):
    authorize, _ = await start_login(client)
    page = await client.get(path_of(authorize))
    cancelled = await client.post(form_action(page.text),
                                  data={**form_fields(page.text), "cancel": "1"})
    assert query_of(cancelled.headers["location"])["error"] == "access_denied"
    response = await client.get(path_of(cancelled.headers["location"]))
    await assert_refused(response, app)
    assert "cancelled" in response.text


async def test_acr_below_the_required_level_is_refused(app, client):
    svc = services(app)
    svc.patient.config = replace(svc.patient.config, required_acr="idporten-loa-high")
    response = await login(client, level="idporten-loa-substantial")
    await assert_refused(response, app, 403)
    assert "BankID" in response.text


async def test_a_child_under_12_cannot_log_in_themselves(app, client):
    response = await login(client, CHILD_PID)
    await assert_refused(response, app, 403)
    assert await count_patients(app) == 0


def _bad_signature(claims: dict[str, Any], provider) -> str:
    return jwt.encode(claims, OTHER_KEY, algorithm="RS256", headers={"kid": provider.kid})


def _alg_none(claims: dict[str, Any], provider) -> str:
    return unsigned_token({"alg": "none", "kid": provider.kid}, claims)


def _hs256(claims: dict[str, Any], provider) -> str:
    return hs256_with_public_key(provider.key.public_key(), claims, provider.kid)


def _resigned(**changes: Any):
    def make(claims: dict[str, Any], provider) -> str:
        changed = {k: v for k, v in {**claims, **changes}.items() if v is not None}
        return jwt.encode(changed, provider.key, algorithm="RS256",
                          headers={"kid": provider.kid})
    return make


def _expired(claims: dict[str, Any], provider) -> str:
    now = int(time.time())
    return _resigned(iat=now - 900, exp=now - 600)(claims, provider)


BAD_TOKENS = {
    "bad_signature": _bad_signature,
    "alg_none": _alg_none,
    "hs256_signed_with_public_key": _hs256,
    "wrong_iss": _resigned(iss="https://evil.example"),
    "wrong_aud": _resigned(aud="someone-else"),
    "expired": _expired,
    "missing_nonce": _resigned(nonce=None),
    "wrong_nonce": _resigned(nonce="from-another-login"),
    "missing_pid": _resigned(pid=None),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_bad_id_token_refuses_the_login(app, client, monkeypatch, case):
    provider = provider_of(app)
    make = BAD_TOKENS[case]
    monkeypatch.setattr(provider, "sign_id_token", lambda claims: make(claims, provider))
    response = await login(client)
    await assert_refused(response, app, 403 if case == "missing_pid" else 400)
    assert await count_patients(app) == 0


# --- the local provider's token endpoint ------------------------------------------------

async def _code_and_verifier(app, client) -> dict[str, str]:
    """A fresh code from the provider, for calling /token directly."""
    provider = provider_of(app)
    provider.advertise_par = False
    authorize, _ = await start_login(client)
    params = query_of(authorize)
    verifier = "v" * 50
    params["code_challenge"] = s256(verifier)
    params.pop("request_uri", None)
    response = await client.post("/dev/idporten/authorize",
                                 data={**params, "login_hint": f"testid:{ADULT_PID}"})
    code = query_of(response.headers["location"])["code"]
    return {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": params["redirect_uri"], "client_id": "tanntid-local",
            "client_secret": local_client_secret(app.state.settings, "tanntid-local")}


async def test_token_endpoint_refuses_a_second_use_of_a_code(app, client):
    form = await _code_and_verifier(app, client)
    assert (await client.post("/dev/idporten/token", data=form)).status_code == 200
    again = await client.post("/dev/idporten/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_token_endpoint_checks_pkce(app, client):
    form = await _code_and_verifier(app, client)
    response = await client.post("/dev/idporten/token", data={**form, "code_verifier": "w" * 50})
    assert response.json()["error"] == "invalid_grant"


async def test_token_endpoint_checks_the_redirect_uri(app, client):
    form = await _code_and_verifier(app, client)
    response = await client.post("/dev/idporten/token",
                                 data={**form, "redirect_uri": "http://evil.example/cb"})
    assert response.json()["error"] == "invalid_grant"


async def test_token_endpoint_checks_the_client_secret(app, client):
    form = await _code_and_verifier(app, client)
    response = await client.post("/dev/idporten/token", data={**form, "client_secret": "x"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_authorize_refuses_a_request_without_pkce(app, client):
    provider_of(app).advertise_par = False
    authorize, _ = await start_login(client)
    params = query_of(authorize)
    del params["code_challenge"], params["code_challenge_method"]
    response = await client.get("/dev/idporten/authorize", params=params)
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_authorize_never_redirects_to_an_unregistered_uri(app, client):
    provider_of(app).advertise_par = False
    authorize, _ = await start_login(client)
    params = {**query_of(authorize), "redirect_uri": "https://evil.example/cb"}
    response = await client.get("/dev/idporten/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers


async def test_a_pushed_request_uri_works_once(app, client):
    authorize, _ = await start_login(client)
    assert (await client.get(path_of(authorize))).status_code == 200
    assert (await client.get(path_of(authorize))).status_code == 400


# --- sessions in use ------------------------------------------------------------------

async def test_idle_timeout_ends_the_session(app, client):
    svc = services(app)
    start = svc.sessions.clock()
    await login(client)
    svc.sessions.clock = lambda: start + timedelta(minutes=29)
    assert (await client.get("/test/me")).status_code == 200
    svc.sessions.clock = lambda: start + timedelta(minutes=29 + 31)
    response = await client.get("/test/me")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/test/me"
    assert await count_sessions(app) == 0


async def test_absolute_limit_ends_even_a_busy_session(app, client):
    svc = services(app)
    start = svc.sessions.clock()
    await login(client)
    for minutes in range(20, 120, 20):
        svc.sessions.clock = lambda m=minutes: start + timedelta(minutes=m)
        assert (await client.get("/test/me")).status_code == 200, minutes
    svc.sessions.clock = lambda: start + timedelta(minutes=121)
    assert (await client.get("/test/me")).status_code == 303


async def test_htmx_request_on_an_expired_session_gets_hx_redirect(app, client):
    svc = services(app)
    start = svc.sessions.clock()
    await login(client)
    svc.sessions.clock = lambda: start + timedelta(minutes=45)
    response = await client.get("/test/me/fragment", headers={
        "HX-Request": "true", "HX-Target": "who",
        "HX-Current-URL": "http://127.0.0.1:8000/mine-timer?side=2"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/auth/login?next=/mine-timer%3Fside%3D2"
    assert response.text == ""  # never a login page swapped into a fragment
    assert "tanntid-session=" in response.headers.get("set-cookie", "")  # cleared


async def test_htmx_request_from_another_origin_page_gets_no_next(client):
    response = await client.get("/test/me/fragment", headers={
        "HX-Request": "true", "HX-Current-URL": "https://evil.example/x"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/auth/login"


# --- sessions in Redis ------------------------------------------------------------------

@pytest.mark.redis
async def test_sessions_live_in_redis_when_it_is_configured(tmp_path, db, redis_server_url,
                                                            redis_prefix):
    application = build_app(tmp_path, "http://127.0.0.1:8000", redis_url=redis_server_url)
    await application.state.db.dispose()
    application.state.db = db
    transport = httpx.ASGITransport(app=application)
    svc = install(application, http=httpx.AsyncClient(transport=transport),
                  redis_prefix=redis_prefix)
    assert isinstance(svc.sessions.store, RedisSessionStore)
    try:
        async with browser("http://127.0.0.1:8000", transport) as user:
            await login(user)
            assert (await user.get("/test/me")).status_code == 200
            assert await count_sessions(application) == 0  # not in the database
            keys = [k async for k in svc.redis.scan_iter(match=redis_prefix + "*")]
            assert len(keys) == 2  # the session and its sid index
            values = [await svc.redis.get(k) for k in keys
                      if b"session:" in k and b"session-sid" not in k]
            assert values and ADULT_PID.encode() not in values[0]
            await user.post("/auth/logout")
            assert (await user.get("/test/me")).status_code == 303
    finally:
        keys = [k async for k in svc.redis.scan_iter(match=redis_prefix + "*")]
        if keys:
            await svc.redis.delete(*keys)
        await shutdown(application)
