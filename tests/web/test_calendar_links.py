"""Links without login: signed tokens, the calendar file and the directions
page, through the app in-process."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import time_machine
from icalendar import Calendar
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Route

from booking import service
from booking.audit import Actor
from booking.directions import entur_link, map_link
from booking.models import Appointment
from core.db import Database
from notifications.models import Notification
from notifications.templates import link_key, links_for
from tests.apps import BASE_URL, client_for, make_app
from tests.booking.booking_world import NOW, World, make_world
from tests.pages import html, text_of
from web import signing
from web.views import calendar as views
from web.views.calendar import calendar_link, directions_link

SECRET = "t" * 40  # the app fixture's SECRET_KEY
EXPIRES = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
MOMENT = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


# --- tokens -----------------------------------------------------------------

def test_a_token_round_trips() -> None:
    token = signing.sign("ics", 4711, EXPIRES, SECRET)
    assert signing.verify("ics", token, SECRET, MOMENT) == 4711


@pytest.mark.parametrize(("payload", "length"), [
    (0, 18), (255, 18), (256, 19), (65_535, 19), (65_536, 20), (2**24, 22), (2**32 - 1, 22),
])
def test_tokens_are_short_enough_for_sms(payload: int, length: int) -> None:
    token = signing.sign("ics", payload, EXPIRES, SECRET)
    assert len(token) == length
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert signing.verify("ics", token, SECRET, MOMENT) == payload


def test_the_largest_payload_still_verifies() -> None:
    token = signing.sign("ics", 2**64 - 1, EXPIRES, SECRET)
    assert signing.verify("ics", token, SECRET, MOMENT) == 2**64 - 1


def test_every_changed_character_is_refused() -> None:
    token = signing.sign("ics", 4711, EXPIRES, SECRET)
    for index, char in enumerate(token):
        for other in ("A", "z", "-"):
            if other != char:
                tampered = token[:index] + other + token[index + 1:]
                assert signing.verify("ics", tampered, SECRET, MOMENT) is None, tampered


@pytest.mark.parametrize("garbage", [
    "", "abc", "a" * 200, "!!!!!!!!!!!!!!!!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAA==",
    "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA.ics", "ÆØÅÆØÅÆØÅÆØÅÆØÅÆØÅÆØÅ",
])
def test_garbage_is_refused(garbage: str) -> None:
    assert signing.verify("ics", garbage, SECRET, MOMENT) is None


def test_a_truncated_or_extended_token_is_refused() -> None:
    token = signing.sign("ics", 4711, EXPIRES, SECRET)
    assert signing.verify("ics", token[:-1], SECRET, MOMENT) is None
    assert signing.verify("ics", token + "A", SECRET, MOMENT) is None


def test_a_token_is_bound_to_its_purpose_and_secret() -> None:
    token = signing.sign("ics", 4711, EXPIRES, SECRET)
    assert signing.verify("directions", token, SECRET, MOMENT) is None
    assert signing.verify("ics", token, "another secret of some length", MOMENT) is None


def test_a_token_expires_at_its_expiry() -> None:
    token = signing.sign("ics", 4711, EXPIRES, SECRET)
    assert signing.verify("ics", token, SECRET, EXPIRES - timedelta(seconds=1)) == 4711
    assert signing.verify("ics", token, SECRET, EXPIRES) is None
    assert signing.verify("ics", token, SECRET, EXPIRES + timedelta(days=400)) is None


def test_a_token_never_expires_earlier_than_asked() -> None:
    expires = EXPIRES + timedelta(microseconds=500_000)
    token = signing.sign("ics", 1, expires, SECRET)
    assert signing.verify("ics", token, SECRET, expires - timedelta(microseconds=1)) == 1


@pytest.mark.parametrize(("purpose", "payload", "expires"), [
    ("ics", -1, EXPIRES),
    ("ics", 2**64, EXPIRES),
    ("ics", 1, datetime(2030, 3, 4, 10, 0)),  # naive
    ("ics", 1, datetime(2107, 1, 1, tzinfo=UTC)),
    ("", 1, EXPIRES),
    ("ICS", 1, EXPIRES),
    ("ics\x00directions", 1, EXPIRES),
])
def test_signing_refuses_what_it_cannot_represent(purpose: str, payload: int,
                                                   expires: datetime) -> None:
    with pytest.raises(ValueError):
        signing.sign(purpose, payload, expires, SECRET)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        signing.sign("ics", 1, EXPIRES, "")


#: Tokens made before the codec moved to core.tokens, pasted as they were
#: produced: links already sent must keep working, and the same link must
#: still be written the same way.
GOLDEN_SECRET = "golden secret: links already sent"
GOLDEN_EXPIRES = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
GOLDEN_TOKENS = [
    ("ics", 0, "AHNiO9kGsufD6bd_mg"),
    ("ics", 4711, "EmdzYjvZ38LxN7DmJRs"),
    ("directions", 4711, "EmdzYjvZ-YQrgibdLmc"),
    ("ics", 2**32 - 1, "_____3NiO9m00ylDccDBPw"),
    ("directions", 2**64 - 1, "__________9zYjvZZ1t5rO_Y1GU"),
]


@pytest.mark.parametrize(("purpose", "payload", "token"), GOLDEN_TOKENS)
def test_links_already_sent_verify_and_are_made_the_same_way(purpose: str, payload: int,
                                                             token: str) -> None:
    assert signing.sign(purpose, payload, GOLDEN_EXPIRES, GOLDEN_SECRET) == token
    assert signing.verify(purpose, token, GOLDEN_SECRET, MOMENT) == payload
    assert signing.verify(purpose, token, GOLDEN_SECRET, GOLDEN_EXPIRES) is None


# --- the endpoints ----------------------------------------------------------

def _parse(content: bytes) -> Any:
    """``Any``: icalendar types a property as any of its value classes."""
    return Calendar.from_ical(content)


@pytest.fixture(autouse=True)
def link_routes(app: Starlette) -> None:
    """The lead wires these in web.routes; add them here until then."""
    paths = {getattr(route, "path", None) for route in app.router.routes}
    for path, endpoint in ((views.CALENDAR_PATH, views.calendar_file),
                           (views.DIRECTIONS_PATH, views.directions)):
        if path not in paths:
            app.router.routes.insert(0, Route(path, endpoint))


async def _booked(db: Database) -> tuple[World, Appointment]:
    world = await make_world(db)
    outcome = await service.book(db, Actor.patient(world.adult.id), patient_id=world.adult.id,
                                 slot_id=world.slots[0].id, appointment_type_id=world.exam.id,
                                 now=NOW)
    return world, outcome.appointment


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    return parts.path


def test_links_are_absolute_on_the_public_url_and_end_with_the_appointment() -> None:
    appointment = Appointment(id=12, chain_id=5, ends_at=EXPIRES)
    link = calendar_link("https://tanntid.example/", appointment, SECRET, MOMENT)
    assert link is not None
    prefix, suffix = "https://tanntid.example/kalender/", ".ics"
    assert link.startswith(prefix) and link.endswith(suffix)
    token = link[len(prefix):-len(suffix)]
    assert len(token) == 18
    assert signing.verify("ics", token, SECRET, MOMENT) == 5  # the chain, not the row
    assert signing.verify("ics", token, SECRET, EXPIRES) is None
    way = directions_link("https://tanntid.example", appointment, SECRET, MOMENT)
    assert way is not None and way.startswith("https://tanntid.example/veibeskrivelse/")
    assert signing.verify("directions", way.rsplit("/", 1)[1], SECRET, MOMENT) == 5
    # No link to send for an appointment that is over.
    assert calendar_link("https://tanntid.example", appointment, SECRET, EXPIRES) is None
    assert directions_link("https://tanntid.example", appointment, SECRET, EXPIRES) is None


async def test_the_calendar_link_downloads_the_event(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    world, appointment = await _booked(db)
    link = calendar_link(app.state.settings, appointment, SECRET, NOW)
    assert link is not None
    response = await client.get(_path(link), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="tannlege.ics"'
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    assert "Accept-Language" in response.headers["vary"]
    calendar = _parse(response.content)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "PUBLISH"
    assert event["UID"] == f"appointment-{appointment.id}@127.0.0.1"
    assert event["SEQUENCE"] == 1
    assert event["SUMMARY"] == f"Dentist: {world.clinic.name}"
    assert event["SUMMARY"].params["LANGUAGE"] == "en"
    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    # Monday 4 March 2030, 09:00 UTC = 10:00 in Oslo (winter time).
    assert b"DTSTART;TZID=Europe/Oslo:20300304T100000" in response.content
    for private in ("Kari", "Nordmann", "Examination", "Undersøkelse"):
        assert private not in response.text


async def test_the_calendar_is_in_the_readers_language(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    _, appointment = await _booked(db)
    link = calendar_link(app.state.settings, appointment, SECRET, NOW)
    assert link is not None
    client.cookies.set("lang", "nn")
    response = await client.get(_path(link))
    (event,) = _parse(response.content).walk("VEVENT")
    assert event["SUMMARY"].params["LANGUAGE"] == "nn"


@pytest.mark.parametrize(("lang", "summary"), [
    ("nb", "Tannlege, Ola: {clinic}"), ("nn", "Tannlege, Ola: {clinic}"),
    ("en", "Dentist, Ola: {clinic}"), ("se", "Bátnedoavttir, Ola: {clinic}"),
])
async def test_a_guardians_link_names_the_child_and_is_tentative_until_confirmed(
        app: Starlette, client: httpx.AsyncClient, db: Database, lang: str,
        summary: str) -> None:
    world = await make_world(db)
    guardian = Actor.guardian(world.adult.id, {world.child.id})
    appointment = (await service.book(
        db, Actor.record_system(), patient_id=world.child.id, slot_id=world.slots[1].id,
        appointment_type_id=world.child_exam.id, clinic_issued=True, now=NOW)).appointment
    named = calendar_link(app.state.settings, appointment, SECRET, NOW, named=True)
    plain = calendar_link(app.state.settings, appointment, SECRET, NOW)
    assert named is not None and plain is not None and named != plain
    client.cookies.set("lang", lang)
    (event,) = _parse((await client.get(_path(named))).content).walk("VEVENT")
    assert event["SUMMARY"] == summary.format(clinic=world.clinic.name)
    assert event["STATUS"] == "TENTATIVE"  # the clinic's notice is not answered yet
    (unnamed,) = _parse((await client.get(_path(plain))).content).walk("VEVENT")
    assert "Ola" not in unnamed["SUMMARY"]
    await service.confirm(db, guardian, appointment_id=appointment.id, now=NOW)
    (confirmed,) = _parse((await client.get(_path(named))).content).walk("VEVENT")
    assert confirmed["STATUS"] == "CONFIRMED"


async def test_the_first_link_follows_a_change_and_a_cancellation(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    world, booked = await _booked(db)
    link = calendar_link(app.state.settings, booked, SECRET, NOW)
    assert link is not None
    actor = Actor.patient(world.adult.id)
    changed = (await service.change(db, actor, appointment_id=booked.id,
                                    new_slot_id=world.slots[2].id, now=NOW)).appointment

    calendar = _parse((await client.get(_path(link))).content)
    (event,) = calendar.walk("VEVENT")
    assert (calendar["METHOD"], event["SEQUENCE"], event["STATUS"]) == (
        "PUBLISH", 2, "CONFIRMED")
    assert event["UID"] == f"appointment-{booked.id}@127.0.0.1"
    assert event["DTSTART"].dt.astimezone(UTC) == changed.starts_at

    await service.cancel(db, actor, appointment_id=changed.id, now=NOW)
    calendar = _parse((await client.get(_path(link))).content)
    (event,) = calendar.walk("VEVENT")
    assert (calendar["METHOD"], event["SEQUENCE"], event["STATUS"]) == (
        "CANCEL", 3, "CANCELLED")
    assert event["UID"] == f"appointment-{booked.id}@127.0.0.1"


async def _is_not_found(response: httpx.Response) -> None:
    """The plain refusal of a link: not for you or expired, and how to log in
    (no reference number)."""
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-store"
    soup = html(response)
    assert text_of(soup, "h1") == "Denne lenken virker ikke for deg"
    assert text_of(soup, ".link-refused__why").startswith(
        "Lenken er ikke ment for deg, eller den er utløpt.")
    assert soup.select_one("main a[href='/auth/login']") is not None
    assert soup.select_one(".correlation-id") is None
    assert "text/calendar" not in response.headers["content-type"]


async def test_a_tampered_calendar_token_is_not_found(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    _, appointment = await _booked(db)
    link = calendar_link(app.state.settings, appointment, SECRET, NOW)
    assert link is not None
    path = _path(link)
    token = path.removeprefix("/kalender/").removesuffix(".ics")
    flipped = token[:5] + ("B" if token[5] != "B" else "C") + token[6:]
    await _is_not_found(await client.get(f"/kalender/{flipped}.ics"))
    await _is_not_found(await client.get("/kalender/nonsense.ics"))


async def test_a_directions_token_does_not_open_the_calendar_nor_the_reverse(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    _, appointment = await _booked(db)
    way = directions_link(app.state.settings, appointment, SECRET, NOW)
    ics = calendar_link(app.state.settings, appointment, SECRET, NOW)
    assert way is not None and ics is not None
    way_token = way.rsplit("/", 1)[1]
    ics_token = _path(ics).removeprefix("/kalender/").removesuffix(".ics")
    await _is_not_found(await client.get(f"/kalender/{way_token}.ics"))
    await _is_not_found(await client.get(f"/veibeskrivelse/{ics_token}"))


async def test_links_stop_working_when_the_appointment_has_ended(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    _, appointment = await _booked(db)
    ics = calendar_link(app.state.settings, appointment, SECRET, NOW)
    way = directions_link(app.state.settings, appointment, SECRET, NOW)
    assert ics is not None and way is not None
    with time_machine.travel(appointment.ends_at - timedelta(seconds=1), tick=False):
        assert (await client.get(_path(ics))).status_code == 200
        assert (await client.get(_path(way))).status_code == 200
    with time_machine.travel(appointment.ends_at, tick=False):
        await _is_not_found(await client.get(_path(ics)))
        await _is_not_found(await client.get(_path(way)))


async def test_a_token_for_an_unknown_chain_is_not_found(client: httpx.AsyncClient) -> None:
    token = signing.sign("ics", 10**9, datetime(2099, 1, 1, tzinfo=UTC), SECRET)
    await _is_not_found(await client.get(f"/kalender/{token}.ics"))
    token = signing.sign("directions", 10**9, datetime(2099, 1, 1, tzinfo=UTC), SECRET)
    await _is_not_found(await client.get(f"/veibeskrivelse/{token}"))


async def test_the_directions_page_links_to_the_map_and_entur(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    world, appointment = await _booked(db)
    way = directions_link(app.state.settings, appointment, SECRET, NOW)
    assert way is not None
    response = await client.get(_path(way), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    soup = html(response)
    clinic = world.clinic
    assert soup.html is not None and soup.html["lang"] == "en"
    assert text_of(soup, "h1") == f"Directions to {clinic.name}"
    assert text_of(soup, "address") == f"{clinic.name} Storgata 1 0155 Oslo"
    map_anchor = soup.select_one("a#map-link")
    entur_anchor = soup.select_one("a#entur-link")
    assert map_anchor is not None and entur_anchor is not None
    assert map_anchor["href"] == map_link(59.91, 10.75)
    assert entur_anchor["href"] == entur_link(59.91, 10.75, clinic.name)
    assert map_anchor["rel"] == entur_anchor["rel"] == ["noreferrer"]
    assert soup.select_one('a[href="tel:+4722000000"]') is not None
    for private in ("Kari", "Nordmann", "Examination", "Undersøkelse", "10:00"):
        assert private not in response.text


async def test_the_directions_page_shows_the_clinic_of_the_latest_appointment(
        app: Starlette, client: httpx.AsyncClient, db: Database) -> None:
    world, booked = await _booked(db)
    way = directions_link(app.state.settings, booked, SECRET, NOW)
    assert way is not None
    staff = Actor.staff("reception-1", {world.clinic.id, world.other_clinic.id})
    await service.change(db, staff, appointment_id=booked.id, new_slot_id=world.other_slot.id,
                         now=NOW)
    soup = html(await client.get(_path(way), headers={"Accept-Language": "en"}))
    assert text_of(soup, "h1") == f"Directions to {world.other_clinic.name}"


async def _notification_ids(db: Database, appointment_id: int) -> list[int]:
    async with db.read() as session:
        return list((await session.scalars(select(Notification.id).where(
            Notification.appointment_id == appointment_id))).all())


async def test_sms_links_lead_to_calendar_directions_and_the_appointment(db):
    """The one token an SMS carries (notifications.templates.links_for),
    signed for the booking's confirmation."""
    w = await make_world(db)
    out = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                             slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    [confirmation, *_] = await _notification_ids(db, out.appointment.id)
    app = make_app(db)
    settings = app.state.settings
    links = links_for(settings.public_url, link_key(settings.secret_key), out.appointment.id,
                      confirmation)
    path = links.appointment.removeprefix(settings.public_url)
    async with client_for(app, settings.public_url) as client:
        with time_machine.travel(NOW, tick=False):
            ics = await client.get(path + ".ics")
            way = await client.get(path + "/kart")
            page = await client.get(path)
            form = await client.get(links.form.removeprefix(settings.public_url))
            forged = await client.get(path[:-2] + "xx.ics")
            forged_form = await client.get(path[:-2] + "xx/skjema")
        with time_machine.travel(w.slots[0].ends_at + timedelta(hours=1), tick=False):
            expired = await client.get(path + ".ics")
    assert ics.status_code == 200
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(event["UID"]).startswith(f"appointment-{out.appointment.chain_id}@")
    assert way.status_code == 200 and w.clinic.street_address in way.text
    assert page.status_code == 303 and page.headers["location"] == f"/timer/{out.appointment.id}"
    # the reminder's link to the pre-visit form: its page, behind login
    assert form.status_code == 303
    assert form.headers["location"] == f"/timer/{out.appointment.id}/helseskjema"
    assert forged.status_code == 404 and forged_form.status_code == 404
    assert expired.status_code == 404


async def test_sms_links_of_other_notifications_and_already_sent_ones(db):
    """A token signed for a notification of another appointment is not one of
    this appointment's; a token sent before notifications were bound in (the
    MAC over the appointment id alone) still works until the appointment ends."""
    w = await make_world(db)
    mine = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                              slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    other = await service.book(db, Actor.patient(w.other_adult.id),
                               patient_id=w.other_adult.id, slot_id=w.slots[1].id,
                               appointment_type_id=w.exam.id, now=NOW)
    [others, *_] = await _notification_ids(db, other.appointment.id)
    app = make_app(db)
    settings = app.state.settings
    key = link_key(settings.secret_key)
    borrowed = links_for(settings.public_url, key, mine.appointment.id, others)
    unknown = links_for(settings.public_url, key, mine.appointment.id, 10**9)
    raw = mine.appointment.id.to_bytes(max(1, (mine.appointment.id.bit_length() + 7) // 8), "big")
    mac = hmac.new(key, b"appointment:" + raw, hashlib.sha256).digest()[:6]
    unversioned = base64.urlsafe_b64encode(raw + mac).rstrip(b"=").decode()
    async with client_for(app, settings.public_url) as client:
        with time_machine.travel(NOW, tick=False):
            refused = [await client.get(links.calendar.removeprefix(settings.public_url))
                       for links in (borrowed, unknown)]
            old_ics = await client.get(f"/t/{unversioned}.ics")
            old_page = await client.get(f"/t/{unversioned}")
        with time_machine.travel(w.slots[0].ends_at + timedelta(hours=1), tick=False):
            old_expired = await client.get(f"/t/{unversioned}.ics")
    assert [response.status_code for response in refused] == [404, 404]
    assert old_ics.status_code == 200
    assert old_page.status_code == 303
    assert old_page.headers["location"] == f"/timer/{mine.appointment.id}"
    assert old_expired.status_code == 404


async def test_the_access_log_names_the_route_not_the_token(
        app: Starlette, client: httpx.AsyncClient, db: Database,
        caplog: pytest.LogCaptureFixture) -> None:
    """A link token is a key to someone's appointment: the request log keeps
    the route it went to, never the token itself."""
    _, appointment = await _booked(db)
    ics = calendar_link(app.state.settings, appointment, SECRET, NOW)
    way = directions_link(app.state.settings, appointment, SECRET, NOW)
    assert ics is not None and way is not None
    sms = links_for(BASE_URL, link_key(SECRET), appointment.id, 1)
    paths = [_path(ics), _path(way), *(_path(link) for link in (
        sms.appointment, sms.calendar, sms.directions))]
    caplog.set_level("INFO", logger="tanntid.access")
    for path in [*paths, "/klinikker"]:
        await client.get(path)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "tanntid.access")
    for route in ("/kalender/{token}.ics", "/veibeskrivelse/{token}", "/t/{token}",
                  "/t/{token}.ics", "/t/{token}/kart", "/klinikker"):
        assert f"path={route} " in logged or f'"path": "{route}"' in logged, route
    for path in paths:
        token = path.split("/")[2].removesuffix(".ics")
        assert token not in logged


async def _guardian_booked_child(db: Database) -> tuple[World, Appointment, int]:
    """The adult, guardian of the 9-year-old at the same address, booked the
    child; returns the world, the appointment and the guardian's SMS row."""
    from booking.models import Guardianship

    world = await make_world(db)
    async with db.write() as session:
        session.add(Guardianship(guardian_id=world.adult.id, child_id=world.child.id))
    outcome = await service.book(db, Actor.guardian(world.adult.id, {world.child.id}),
                                 patient_id=world.child.id, slot_id=world.slots[0].id,
                                 appointment_type_id=world.child_exam.id, now=NOW)
    async with db.read() as session:
        [to_guardian] = (await session.scalars(select(Notification.id).where(
            Notification.appointment_id == outcome.appointment.id,
            Notification.recipient_id == world.adult.id, Notification.channel == "sms",
            Notification.purpose == "confirmation"))).all()
    return world, outcome.appointment, to_guardian


async def test_links_die_for_a_guardian_who_lost_access_even_after_a_move(db: Database) -> None:
    """The child gets a confidential address and the clinic moves the
    appointment: the guardian's SMS links and page links show nothing (the
    same page as any unknown link), not the new clinic and time."""
    from booking.models import Patient

    world, booked, to_guardian = await _guardian_booked_child(db)
    app = make_app(db)
    settings = app.state.settings
    sms = links_for(settings.public_url, link_key(settings.secret_key), booked.id, to_guardian)
    held = calendar_link(settings, booked, SECRET, NOW, holder_id=world.adult.id)
    way = directions_link(settings, booked, SECRET, NOW, holder_id=world.adult.id)
    older = calendar_link(settings, booked, SECRET, NOW)  # names no holder
    assert held is not None and way is not None and older is not None
    paths = [_path(held), _path(way), _path(older), *(
        link.removeprefix(settings.public_url) for link in (sms.calendar, sms.directions))]

    async with client_for(app, settings.public_url) as client:
        with time_machine.travel(NOW, tick=False):
            assert [(await client.get(p)).status_code for p in paths] == [200] * 5
            assert (await client.get(sms.appointment.removeprefix(
                settings.public_url))).status_code == 303
            async with db.write() as session:
                child = await session.get(Patient, world.child.id)
                assert child is not None
                child.confidential_address = "fortrolig"
            staff = Actor.staff("reception-1", {world.clinic.id, world.other_clinic.id})
            await service.change(db, staff, appointment_id=booked.id,
                                 new_slot_id=world.other_slot.id, now=NOW)
            after = [await client.get(p) for p in paths]
            page = await client.get(sms.appointment.removeprefix(settings.public_url))
    assert [response.status_code for response in after] == [404] * 5
    assert page.status_code == 404
    for response in after:
        assert world.other_clinic.name not in response.text
        assert "text/calendar" not in response.headers["content-type"]


async def test_a_guardians_links_die_when_the_child_turns_16(db: Database) -> None:
    from booking.models import Patient

    world, booked, to_guardian = await _guardian_booked_child(db)
    app = make_app(db)
    settings = app.state.settings
    sms = links_for(settings.public_url, link_key(settings.secret_key), booked.id, to_guardian)
    path = sms.calendar.removeprefix(settings.public_url)
    async with client_for(app, settings.public_url) as client:
        with time_machine.travel(NOW, tick=False):
            assert (await client.get(path)).status_code == 200
            async with db.write() as session:
                child = await session.get(Patient, world.child.id)
                assert child is not None
                child.birth_date = NOW.date().replace(year=NOW.year - 16)  # 16 today
            assert (await client.get(path)).status_code == 404


async def test_an_sms_link_expires_on_its_own(db: Database) -> None:
    """An SMS link stops SMS_LINK_LIFETIME after its message went, even for an
    appointment further ahead."""
    from notifications.models import Notification as Row

    w = await make_world(db)
    out = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                             slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    [confirmation, *_] = await _notification_ids(db, out.appointment.id)
    app = make_app(db)
    settings = app.state.settings
    links = links_for(settings.public_url, link_key(settings.secret_key), out.appointment.id,
                      confirmation)
    path = links.calendar.removeprefix(settings.public_url)
    went = NOW - views.SMS_LINK_LIFETIME

    async def sent_at(moment: datetime) -> None:
        async with db.write() as session:
            row = await session.get(Row, confirmation)
            assert row is not None
            row.handed_over_at = moment

    async with client_for(app, settings.public_url) as client:
        with time_machine.travel(NOW, tick=False):
            await sent_at(went + timedelta(minutes=1))
            assert (await client.get(path)).status_code == 200
            await sent_at(went)
            assert (await client.get(path)).status_code == 404
