"""KRR lookups against the fake Maskinporten + KRR over real HTTP: each kind
of person, the 18-month rule with an injected date, batching and the cache."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime

import pytest

from core.identity import synthetic_number
from core.loopback import LoopbackServer
from core.oauth import generate_rsa_jwk
from notifications.channels.krr import (
    KrrClient,
    KrrContact,
    KrrError,
    KrrStatus,
    months_before,
    parse_person,
)
from notifications.fakes.krr import FakeKrr

KEY, PUBLIC = generate_rsa_jwk("tanntid-maskinporten-1")
TODAY = date(2026, 3, 15)
_rng = random.Random(9)
ACTIVE, RESERVED, STALE, NO_MOBILE, DELETED, UNKNOWN, DRIFTED = (
    synthetic_number(date(1970 + i, 1 + i, 10 + i), _rng) for i in range(7))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeKrr:
    fake = FakeKrr()
    fake.add_client("tanntid-krr", PUBLIC)
    fake.active(ACTIVE, "+4791234567", verified=date(2025, 12, 1), language="nn")
    fake.reserved(RESERVED, "+4791234568", verified=date(2025, 12, 1))
    fake.stale(STALE, "+4791234569", verified=date(2024, 1, 5))
    fake.without_mobile(NO_MOBILE)
    fake.deleted(DELETED)
    # The register still says KAN_VARSLES, but the date is past 18 months on TODAY.
    fake.active(DRIFTED, "41234567", verified=date(2024, 9, 14))
    return fake


@pytest.fixture
def url(fake: FakeKrr) -> Iterator[str]:
    with LoopbackServer(fake.app, name="krr") as server:
        yield server.url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def krr(url: str, clock: Clock) -> AsyncIterator[KrrClient]:
    client = KrrClient.from_settings({
        "KRR_API_URL": url, "MASKINPORTEN_TOKEN_URL": url + "/token",
        "MASKINPORTEN_CLIENT_ID": "tanntid-krr", "MASKINPORTEN_CLIENT_JWK": KEY,
        "KRR_CACHE_TTL": "600",
    }, clock=clock)
    yield client
    await client.aclose()


async def test_every_kind_of_person_in_one_batch(krr: KrrClient, fake: FakeKrr) -> None:
    found = await krr.lookup([ACTIVE, RESERVED, STALE, NO_MOBILE, DELETED, UNKNOWN, DRIFTED])

    assert fake.lookups == 1 and fake.batch_sizes == [7]
    active = found[ACTIVE]
    assert (active.status, active.reserved, active.can_be_notified, active.language) == (
        KrrStatus.ACTIVE, False, True, "nn")
    assert active.mobile == "+4791234567"
    assert active.mobile_verified == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert active.notice_mobile(TODAY) == "+4791234567"

    reasons = {nin: found[nin].no_notice_reason(TODAY) for nin in found}
    assert reasons == {ACTIVE: None, RESERVED: "reserved", STALE: "cannot-be-notified",
                       NO_MOBILE: "cannot-be-notified", DELETED: "deleted",
                       UNKNOWN: "not-registered", DRIFTED: "stale"}
    assert found[RESERVED].reserved is True and found[RESERVED].mobile == "+4791234568"
    assert found[DELETED].status is KrrStatus.DELETED and found[DELETED].mobile is None
    assert found[UNKNOWN] == KrrContact(KrrStatus.NOT_REGISTERED)
    assert found[DRIFTED].mobile == "+4741234567"  # normalised to E.164
    assert [found[n].notice_mobile(TODAY) for n in (RESERVED, STALE, DRIFTED)] == [None] * 3


async def test_the_18_month_rule_counts_from_the_given_day(krr: KrrClient) -> None:
    drifted = await krr.contact(DRIFTED)  # last verified 2024-09-14
    assert drifted.notice_mobile(date(2026, 3, 14)) == "+4741234567"  # exactly 18 months
    assert drifted.notice_mobile(date(2026, 3, 15)) is None
    assert drifted.no_notice_reason(date(2026, 3, 15)) == "stale"


def test_months_before_clamps_to_the_end_of_short_months() -> None:
    assert months_before(date(2026, 3, 14), 18) == date(2024, 9, 14)
    assert months_before(date(2026, 8, 31), 18) == date(2025, 2, 28)
    assert months_before(date(2025, 8, 31), 18) == date(2024, 2, 29)
    assert months_before(date(2026, 1, 31), 13) == date(2024, 12, 31)


def test_the_later_of_updated_and_verified_counts() -> None:
    contact = parse_person({
        "personidentifikator": "x", "status": "AKTIV", "reservasjon": "NEI",
        "varslingsstatus": "KAN_VARSLES", "spraak": "EN",
        "kontaktinformasjon": {"mobiltelefonnummer": "+4799999999",
                               "mobiltelefonnummerOppdatert": "2025-11-01T10:00:00+02",
                               "mobiltelefonnummerSistVerifisert": "2023-01-01T10:00:00Z"}})
    assert contact.mobile_confirmed == datetime.fromisoformat("2025-11-01T10:00:00+02:00")
    assert contact.language == "en"
    assert contact.notice_mobile(TODAY) == "+4799999999"
    assert parse_person({"status": "AKTIV", "kontaktinformasjon": {
        "mobiltelefonnummer": "not a number"}}).mobile is None


async def test_answers_are_cached_until_the_ttl(krr: KrrClient, fake: FakeKrr,
                                                clock: Clock) -> None:
    await krr.lookup([ACTIVE, RESERVED])
    await krr.lookup([RESERVED, ACTIVE])
    assert fake.lookups == 1
    await krr.lookup([ACTIVE, STALE])
    assert fake.batch_sizes == [2, 1]  # only the person not cached yet
    clock.now += 601
    await krr.lookup([ACTIVE])
    assert fake.batch_sizes == [2, 1, 1]
    # The same clock expired the 300 s Maskinporten token: one fresh token.
    assert fake.issuer.token_requests == 2
    await krr.lookup([ACTIVE])
    krr.forget([ACTIVE])
    await krr.lookup([ACTIVE])
    assert fake.batch_sizes == [2, 1, 1, 1]


async def test_large_lookups_go_in_batches_of_1000(krr: KrrClient, fake: FakeKrr) -> None:
    rng = random.Random(11)
    many = list(dict.fromkeys(synthetic_number(date(1950 + i % 60, 1 + i % 12, 1 + i % 28),
                                               rng) for i in range(2600)))[:2500]
    found = await krr.lookup(many)
    assert fake.batch_sizes == [1000, 1000, 500]
    assert len(found) == 2500
    assert {c.status for c in found.values()} == {KrrStatus.NOT_REGISTERED}


async def test_identity_numbers_stay_out_of_urls(krr: KrrClient, fake: FakeKrr) -> None:
    await krr.lookup([ACTIVE, DELETED])
    assert fake.request_lines == ["/token", "/rest/v2/personer"]


async def test_the_fake_maskinporten_checks_the_grant(url: str, fake: FakeKrr) -> None:
    wrong_aud = KrrClient(api_url=url, token_url=url + "/token", audience=url + "/token",
                          client_id="tanntid-krr", client_jwk=KEY)
    wrong_scope = KrrClient(api_url=url, token_url=url + "/token", audience=url + "/",
                            client_id="tanntid-krr", client_jwk=KEY,
                            scope="krr:global/digitalpost.read")
    for client in (wrong_aud, wrong_scope):
        with pytest.raises(KrrError):
            await client.lookup([ACTIVE])
        await client.aclose()
    assert fake.issuer.rejected == ["invalid_grant", "invalid_scope"]
    assert fake.lookups == 0
