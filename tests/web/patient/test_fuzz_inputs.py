"""Property-based fuzzing (Hypothesis) of every route's path, query and form
parameters: whatever a visitor or a logged-in patient sends, the answer is
never a server error (5xx) and the service's data does not change.

"The data" is every table but the ones a request may rightly write whatever
it carries: the audit log (a refused look at someone else's data is recorded
on purpose), login sessions and the local test login's state (a login page
visited). Ids are drawn from values no row of the test world has (zero,
negatives, beyond 10**6, beyond 64 bits), so no example can be a genuine
booking or cancellation. Examples are few (the suite runs this every time),
and each route is drawn as often as the others.

Hypothesis runs the examples in a worker thread; each request goes to the
test's own event loop (where the app and its database live) and the thread
waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from core.db import Database
from tests.apps import BASE_URL
from tests.web import fuzz
from tests.web.auth.helpers import browser, build_app, local_login, login
from tests.web.fuzz import fingerprint, run, token, value
from tests.web.patient.world import build_world

TWILIO_TOKEN = "twilio-fuzz-token"
#: The names our handlers read, and one they do not.
NAMES = ("fylke", "kommune", "navn", "for", "day", "slot", "type", "clinic", "sok", "key",
         "hold", "next", "lang", "mobil", "kode", "lagret", "iss", "sid", "state", "code",
         "n", "x")
#: Not fuzzed: the test login provider (a stand-in), static files, and the
#: readiness probe (its 503 says the test database is not migrated: its job).
SKIPPED_PREFIXES = ("/dev/idporten", "/static", "/readyz")


# --- what is sent ----------------------------------------------------------------

params = st.dictionaries(st.sampled_from(NAMES), value, max_size=4)


def routes_of(app: Starlette) -> list[tuple[str, str]]:
    """(method, path template) of every route we serve."""
    found = []
    for route in app.router.routes:
        if not isinstance(route, Route) or route.path.startswith(SKIPPED_PREFIXES):
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return sorted(set(found))


def fill(template: str, data: st.DataObject) -> str:
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1:end]
        raw = data.draw(token if name == "token" else st.one_of(value, token), label=name)
        path = path[:start] + quote(raw, safe="") + path[end + 1:]
    return path


# --- the tests ---------------------------------------------------------------------

@pytest.fixture
async def fuzz_app(db: Database):  # type: ignore[no-untyped-def]
    app = build_app(db=db, twilio_auth_token=TWILIO_TOKEN)
    async with local_login(app):
        world = await build_world(app)
        yield app, world


def _fuzz(app: Starlette, client: httpx.AsyncClient, examples: int) -> Callable[[], None]:
    routes = routes_of(app)
    db: Database = app.state.db

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        method, template = data.draw(st.sampled_from(routes), label="route")
        path = fill(template, data)
        query = data.draw(params, label="query")
        form = data.draw(params, label="form") if method == "POST" else None
        before = run(fingerprint(db))
        response = run(client.request(method, path + ("?" + urlencode(query) if query else ""),
                                      data=form))
        assert response.status_code < 500, (method, path, query, form, response.status_code)
        assert run(fingerprint(db)) == before, (method, path, query, form)

    return check


async def test_no_input_gives_a_server_error_or_changes_data_for_a_visitor(fuzz_app):
    fuzz.LOOP = asyncio.get_running_loop()
    app, _ = fuzz_app
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as client:
        await asyncio.to_thread(_fuzz(app, client, 60))


async def test_no_input_gives_a_server_error_or_changes_data_for_a_patient(fuzz_app):
    fuzz.LOOP = asyncio.get_running_loop()
    app, world = fuzz_app
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as client:
        assert (await login(client, world.guardian.pid)).status_code == 303
        await asyncio.to_thread(_fuzz(app, client, 60))


async def test_signed_twilio_callbacks_with_any_numbers_give_no_server_error(fuzz_app):
    """With a valid signature, the callback's own numbers (the notification id
    in the URL, ``ErrorCode``) are the only thing left to go wrong."""
    fuzz.LOOP = asyncio.get_running_loop()
    app, _ = fuzz_app
    validator = RequestValidator(TWILIO_TOKEN)

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(n=value, code=value, status=st.sampled_from(["delivered", "failed", "undelivered"]))
    def check(n: str, code: str, status: str) -> None:
        path = "/webhooks/twilio/status?" + urlencode({"n": n})
        form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": status, "ErrorCode": code}
        headers = {"X-Twilio-Signature": validator.compute_signature(BASE_URL + path, form)}

        async def post() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url=BASE_URL) as client:
                return await client.post(path, data=form, headers=headers)

        response = run(post())
        assert response.status_code in (200, 400), (n, code, response.status_code)

    await asyncio.to_thread(check)


async def test_the_reported_overflows_are_refused_plainly(fuzz_app):
    """The five requests of issue #12 that ended in OverflowError."""
    app, _ = fuzz_app
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as client:
        for path in ("/klinikker?fylke=9223372036854775808", "/t/__________________8/kart",
                     "/t/__________________8.ics", "/t/__________________8"):
            response = await client.get(path)
            assert response.status_code in (200, 404), (path, response.status_code)
