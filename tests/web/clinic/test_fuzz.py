"""Property-based fuzzing (Hypothesis) of the clinic console as a logged-in
receptionist: every route with the clinic's own slug (so the handlers get
past the scope check) and odd ids, dates, marks, purposes and names. Never a
server error, and nothing but the audit log changes (the ids drawn belong to
no appointment of the world)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from tests.web import fuzz
from tests.web.clinic.world import GRUNERLOKKA
from web.views import clinic

NAMES = ("dato", "mark", "purpose", "identity_number", "name", "birth_date", "merket", "x")
params = st.dictionaries(st.sampled_from(NAMES), st.one_of(
    fuzz.value, st.sampled_from(["arrived", "completed", "no_show", "booking", "arrival",
                                 "phone_inquiry", "day_list", "17.05.1980", "1980-05-17"])),
    max_size=4)


def _routes() -> list[tuple[str, str]]:
    return sorted({(method, route.path) for route in clinic.routes()
                   if isinstance(route, Route) for method in route.methods or ()
                   if method != "HEAD"})


async def test_no_input_gives_a_server_error_or_changes_data(app, reception, world):
    fuzz.LOOP = asyncio.get_running_loop()
    db = app.state.db
    routes = _routes()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        method, template = data.draw(st.sampled_from(routes), label="route")
        path = template.replace("{slug}", GRUNERLOKKA)
        for name in ("appointment_id", "token"):
            if "{" + name + "}" in path:
                raw = data.draw(fuzz.token if name == "token" else fuzz.value, label=name)
                path = path.replace("{" + name + "}", quote(raw, safe="") or "x")
        query = data.draw(params, label="query")
        form = data.draw(params, label="form") if method == "POST" else None
        before = fuzz.run(fuzz.fingerprint(db))
        response = fuzz.run(reception.request(
            method, path + ("?" + urlencode(query) if query else ""), data=form))
        assert response.status_code < 500, (method, path, query, form, response.status_code)
        assert fuzz.run(fuzz.fingerprint(db)) == before, (method, path, query, form)

    await asyncio.to_thread(check)
