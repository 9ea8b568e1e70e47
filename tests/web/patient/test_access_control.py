"""Nobody reaches another person's data by changing an id: every patient
route, GET and POST, with another patient's appointment ids, another
family's child, a 16-year-old, and malformed ids. Each gets the translated
404 page, nothing changes, and a refused access to a real person is written
to that person's audit log."""

from __future__ import annotations

from starlette.routing import Route

from tests.pages import html, text_of
from tests.web.patient.world import World, appointment_row, audit_entries, count_audit
from web.views import patient

APPOINTMENT_ROUTES = [(method, route.path) for route in patient.routes()
                      if isinstance(route, Route) and "{appointment_id}" in route.path
                      for method in sorted(route.methods or ()) if method != "HEAD"]
SUBJECT_ROUTES = [(method, route.path) for route in patient.routes()
                  if isinstance(route, Route) and "{appointment_id}" not in route.path
                  for method in sorted(route.methods or ()) if method != "HEAD"]


def test_the_lists_cover_every_route() -> None:
    assert sorted(APPOINTMENT_ROUTES) == [
        ("GET", "/timer/{appointment_id}"),
        ("GET", "/timer/{appointment_id}/avbestill"),
        ("POST", "/timer/{appointment_id}/avbestill"),
        ("POST", "/timer/{appointment_id}/bekreft"),
        ("POST", "/timer/{appointment_id}/her"),
    ]
    assert sorted(SUBJECT_ROUTES) == [("GET", "/innsyn"), ("GET", "/min-side"),
                                      ("GET", "/timer"), ("POST", "/min-side/bekreft-alle")]


async def _send(client, method: str, url: str):
    if method == "POST":
        return await client.post(url, data={"fee_warning_shown": "1"},
                                 headers={"Accept-Language": "nb"})
    return await client.get(url, headers={"Accept-Language": "nb"})


def _is_not_found_page(response) -> bool:
    soup = html(response)
    return (response.status_code == 404 and text_of(soup, "h1") == "Page not found"
            and soup.select_one(".correlation-id") is not None)


async def _snapshot(app, world: World) -> dict[str, tuple[str, int]]:
    rows = {name: await appointment_row(app, appointment_id)
            for name, appointment_id in world.appointments.items()}
    return {name: (row.status, row.version) for name, row in rows.items()}


async def test_other_peoples_appointments_are_not_found_on_every_route(app, world: World,
                                                                       logged_in) -> None:
    client = await logged_in(world.guardian)
    before = await _snapshot(app, world)
    targets = {"stranger": world.stranger.id, "stranger_child": world.stranger_child.id,
               "child16": world.child16.id, "adult": world.adult.id}
    for method, path in APPOINTMENT_ROUTES:
        for name, owner in targets.items():
            refused_before = len(await audit_entries(app, action="access.refused",
                                                     subject=owner))
            url = path.format(appointment_id=world.appointments[name])
            response = await _send(client, method, url)
            assert _is_not_found_page(response), (method, url, response.status_code)
            refused = await audit_entries(app, action="access.refused", subject=owner)
            assert len(refused) == refused_before + 1, (method, url)
            entry = refused[-1]
            assert entry.actor_id == f"patient:{world.guardian.id}"
            assert entry.purpose == "guardian_for_child"
            assert entry.detail["appointment_id"] == world.appointments[name]
            assert entry.detail["method"] == method
    assert await _snapshot(app, world) == before
    for action in ("appointment.cancel", "appointment.confirm", "appointments.view"):
        assert await audit_entries(app, action=action) == []


async def test_another_familys_child_is_not_found_on_every_route(app, world: World,
                                                                 logged_in) -> None:
    client = await logged_in(world.guardian)
    before = await _snapshot(app, world)
    own = world.appointments["guardian"]
    urls = [(method, path) for method, path in SUBJECT_ROUTES]
    urls += [(method, path.format(appointment_id=own)) for method, path in APPOINTMENT_ROUTES]
    for child in (world.stranger_child.id, world.child16.id):
        for method, url in urls:
            count = len(await audit_entries(app, action="access.refused", subject=child))
            response = await _send(client, method, f"{url}?for={child}")
            assert _is_not_found_page(response), (method, url, child)
            assert len(await audit_entries(app, action="access.refused",
                                           subject=child)) == count + 1
    assert await _snapshot(app, world) == before
    assert await audit_entries(app, action="appointments.view") == []


async def test_malformed_and_unknown_ids_are_not_found_and_never_an_error(
        app, world: World, logged_in) -> None:
    client = await logged_in(world.guardian)
    before = await _snapshot(app, world)
    audited = await count_audit(app)
    bad_ids = ["abc", "1e3", "-1", "0x10", "%20" + str(world.appointments["stranger"]),
               "9" * 30, "999999"]
    for method, path in APPOINTMENT_ROUTES:
        for bad in bad_ids:
            response = await _send(client, method, path.format(appointment_id=bad))
            assert _is_not_found_page(response), (method, path, bad, response.status_code)
    for method, path in SUBJECT_ROUTES:
        for bad in ["abc", "-3", "1.5", "9" * 30, "999999", "%00"]:
            response = await _send(client, method, f"{path}?for={bad}")
            assert _is_not_found_page(response), (method, path, bad, response.status_code)
    assert await count_audit(app) == audited  # no person behind any of them
    assert await _snapshot(app, world) == before


async def test_a_young_person_of_16_manages_their_own(app, world: World, logged_in) -> None:
    client = await logged_in(world.child16)
    own = world.appointments["child16"]
    response = await client.get(f"/timer/{own}")
    assert response.status_code == 200
    # ...but not their siblings'.
    sibling = await client.get(f"/timer/{world.appointments['child11']}")
    assert sibling.status_code == 404
    assert len(await audit_entries(app, action="access.refused",
                                   subject=world.child11.id)) == 1


async def test_a_cross_site_post_is_refused(app, world: World, logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    for url in (f"/timer/{appointment_id}/bekreft", f"/timer/{appointment_id}/avbestill"):
        response = await client.post(url, data={"fee_warning_shown": "1"}, headers={
            "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site",
            "Accept-Language": "en"})
        assert response.status_code == 403
        assert text_of(html(response), "h1") == "Request refused"
    row = await appointment_row(app, appointment_id)
    assert (row.status, row.version) == ("booked", 1)
    # The same POST from our own page goes through.
    ok = await client.post(f"/timer/{appointment_id}/bekreft",
                           headers={"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 303
