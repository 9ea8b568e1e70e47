"""The Twilio channel against the fake Twilio over real HTTP, and the fake's
status callbacks against a verifying webhook."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from twilio.request_validator import RequestValidator

from notifications.channels.base import SendOutcome, SmsChannel
from notifications.channels.twilio_sms import (
    InvalidCallback,
    TwilioSmsChannel,
    parse_status_callback,
    verify_twilio_signature,
)
from notifications.fakes.twilio import FakeTwilio
from notifications.statuses import Purpose
from notifications.templates import Audience, MessageContext, link_key, links_for, render
from tests.notifications.channels.receiver import CallbackReceiver

TO = "+4791234567"
BODY = "Tannlegetime tirsdag 3. mars kl. 09:30 på Sentrum tannklinikk. Se tanntid.no/t/Ab3"


async def test_send_is_accepted_with_our_id_in_the_callback_url(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, receiver: CallbackReceiver) -> None:
    result = await sms.send(notification_id=41, to_e164=TO, body=BODY, validity_seconds=7200)

    assert isinstance(sms, SmsChannel)
    assert result.outcome is SendOutcome.ACCEPTED
    assert result.status == "sending"
    assert result.provider_ref is not None and result.provider_ref.startswith("SM")
    [message] = fake_twilio.messages_for(41)
    assert message.sid == result.provider_ref
    assert message.to == TO and message.body == BODY
    assert message.validity_period == 7200
    assert message.messaging_service_sid == "MG" + "0" * 32
    assert message.status_callback == f"{receiver.public_url}/webhooks/twilio/status?n=41"
    assert fake_twilio.deliveries() == {41: 1}


async def test_the_fake_counts_a_second_message_for_one_notification_as_a_duplicate(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio) -> None:
    for notification_id in (7, 8, 7):
        await sms.send(notification_id=notification_id, to_e164=TO, body=BODY,
                       validity_seconds=60)
    assert fake_twilio.deliveries() == {7: 2, 8: 1}
    stats = fake_twilio.stats()
    assert (stats["accepted"], stats["notifications"], stats["duplicates"]) == (3, 2, 1)
    fake_twilio.reset()
    assert fake_twilio.deliveries() == {}
    assert fake_twilio.stats()["duplicates"] == 0


async def test_from_number_is_used_without_a_messaging_service(
        fake_twilio: FakeTwilio, twilio_url: str) -> None:
    channel = TwilioSmsChannel.from_settings({
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token, "TWILIO_FROM": "Tanntid",
        "TWILIO_API_URL": twilio_url, "PUBLIC_URL": "https://tanntid.example/",
    })
    try:
        result = await channel.send(notification_id=1, to_e164=TO, body="Hei",
                                    validity_seconds=60)
    finally:
        await channel.aclose()
    assert result.outcome is SendOutcome.ACCEPTED
    [message] = fake_twilio.messages_for(1)
    assert message.from_ == "Tanntid" and message.messaging_service_sid is None
    assert message.status_callback == "https://tanntid.example/webhooks/twilio/status?n=1"


async def test_throttled_send_is_retried_after_twilios_retry_after(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail(1.0, (429,))
    result = await sms.send(notification_id=2, to_e164=TO, body=BODY, validity_seconds=60)
    assert result.outcome is SendOutcome.RETRY
    assert result.error_code == 20429
    assert result.retry_after == 1.0
    assert fake_twilio.deliveries() == {}


async def test_503_is_retried_and_500_must_be_reconciled(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail(1.0, (503,))
    unavailable = await sms.send(notification_id=3, to_e164=TO, body=BODY, validity_seconds=60)
    fake_twilio.fail(1.0, (500,))
    internal = await sms.send(notification_id=4, to_e164=TO, body=BODY, validity_seconds=60)

    assert unavailable.outcome is SendOutcome.RETRY and unavailable.error_code == 20503
    # A 500 may come from behind Twilio's front door after the message was made.
    assert internal.outcome is SendOutcome.UNKNOWN and internal.error_code == 20500
    fake_twilio.fail(0.0)
    assert await sms.lookup(notification_id=4, provider_ref=None) is None  # not made: resend


async def test_500_after_the_message_was_made_is_found_not_resent(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail(1.0, (500,), create_before_error=True)
    result = await sms.send(notification_id=5, to_e164=TO, body=BODY, validity_seconds=60)
    fake_twilio.fail(0.0)

    found = await sms.lookup(notification_id=5, provider_ref=None)

    assert result.outcome is SendOutcome.UNKNOWN
    assert found is not None and found.outcome is SendOutcome.ACCEPTED
    assert found.provider_ref == fake_twilio.messages_for(5)[0].sid
    assert fake_twilio.deliveries() == {5: 1}


@pytest.mark.parametrize(("number", "behaviour", "code", "status", "opted_out"), [
    ("+4791000001", "invalid", 21211, "permanent-failure", False),
    ("+4791000002", "opted_out", 21610, "permanent-failure", True),
    ("+4791000003", "not_mobile", 21614, "permanent-failure", False),
])
async def test_refused_numbers_fail_for_good(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, number: str, behaviour: str,
        code: int, status: str, opted_out: bool) -> None:
    fake_twilio.mark(number, behaviour)
    result = await sms.send(notification_id=6, to_e164=number, body=BODY, validity_seconds=60)
    assert result.outcome is SendOutcome.FAILED
    assert (result.error_code, result.status) == (code, status)
    assert result.opted_out is opted_out
    assert result.number_unusable is True
    assert fake_twilio.deliveries() == {}


async def test_a_number_that_is_not_e164_is_refused_by_twilio(
        sms: TwilioSmsChannel) -> None:
    result = await sms.send(notification_id=7, to_e164="91234567", body=BODY,
                            validity_seconds=60)
    assert (result.outcome, result.error_code) == (SendOutcome.FAILED, 21211)


async def test_wrong_credentials_are_retried_not_failed(
        fake_twilio: FakeTwilio, twilio_url: str) -> None:
    channel = TwilioSmsChannel(account_sid=fake_twilio.account_sid, auth_token="wrong",
                               public_url="https://tanntid.example", from_number="Tanntid",
                               api_url=twilio_url)
    try:
        result = await channel.send(notification_id=8, to_e164=TO, body=BODY,
                                    validity_seconds=60)
    finally:
        await channel.aclose()
    assert (result.outcome, result.error_code) == (SendOutcome.RETRY, 20003)


async def test_connection_refused_means_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TwilioSmsChannel(account_sid="AC" + "1" * 32, auth_token="t",
                               public_url="https://tanntid.example", from_number="Tanntid",
                               api_url=f"http://127.0.0.1:{port}", connect_timeout=1.0)
    try:
        result = await channel.send(notification_id=9, to_e164=TO, body=BODY,
                                    validity_seconds=60)
    finally:
        await channel.aclose()
    assert result.outcome is SendOutcome.RETRY
    assert result.reason == "Twilio not reached: ClientConnectorError"


async def test_timeout_after_sending_is_unknown_and_reconciled_without_a_resend(
        fake_twilio: FakeTwilio, twilio_url: str, receiver: CallbackReceiver) -> None:
    channel = TwilioSmsChannel(account_sid=fake_twilio.account_sid,
                               auth_token=fake_twilio.auth_token,
                               public_url=receiver.public_url, from_number="Tanntid",
                               api_url=twilio_url, timeout=0.3)
    fake_twilio.response_delay = 1.5
    started = datetime.now(UTC)
    try:
        result = await channel.send(notification_id=10, to_e164=TO, body=BODY,
                                    validity_seconds=60)
        fake_twilio.response_delay = 0.0
        # The same worker reconciles with the notification id alone.
        found = await channel.lookup(notification_id=10, provider_ref=None)
    finally:
        await channel.aclose()

    assert result.outcome is SendOutcome.UNKNOWN
    assert result.reason == "No answer from Twilio (SocketTimeoutError): may have been sent"
    assert found is not None and found.outcome is SendOutcome.ACCEPTED
    [message] = fake_twilio.messages_for(10)
    assert found.provider_ref == message.sid
    assert fake_twilio.deliveries() == {10: 1}

    # After a restart the caller passes what it stored with the row (SQLite
    # gives the attempt time back without its zone: UTC).
    fresh = TwilioSmsChannel(account_sid=fake_twilio.account_sid,
                             auth_token=fake_twilio.auth_token,
                             public_url=receiver.public_url, from_number="Tanntid",
                             api_url=twilio_url)
    try:
        no_hints = await fresh.lookup(notification_id=10, provider_ref=None)
        again = await fresh.lookup(notification_id=10, provider_ref=None, to_e164=TO,
                                   body=BODY, sent_after=started.replace(tzinfo=None))
        by_sid = await fresh.lookup(notification_id=10, provider_ref=message.sid)
        other_body = await fresh.lookup(notification_id=11, provider_ref=None, to_e164=TO,
                                        body="Another text", sent_after=started)
        missing_sid = await fresh.lookup(notification_id=10, provider_ref="SM" + "f" * 32)
    finally:
        await fresh.aclose()
    assert no_hints is not None and no_hints.outcome is SendOutcome.UNKNOWN
    assert again is not None and again.provider_ref == message.sid
    assert by_sid is not None and by_sid.provider_ref == message.sid
    assert other_body is None
    assert missing_sid is None
    assert fake_twilio.deliveries() == {10: 1}


async def test_reconciling_tells_two_texts_about_one_appointment_apart(
        fake_twilio: FakeTwilio, twilio_url: str, receiver: CallbackReceiver) -> None:
    """Two reminders about one appointment to one number: the first goes
    through, the second times out. Each text's links are signed for its own
    notification, so the bodies differ and the lookup finds the second, not
    the first (which lies inside the lookup's clock-skew window)."""
    key = link_key("test-secret")

    def text(notification_id: int) -> str:
        return render(Purpose.REMINDER, Audience.SELF, "nb", MessageContext(
            "Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=UTC),
            links_for("https://tanntid.example.no", key, 42, notification_id))).body

    first, second = text(60), text(61)
    assert first != second
    channel = TwilioSmsChannel(account_sid=fake_twilio.account_sid,
                               auth_token=fake_twilio.auth_token,
                               public_url=receiver.public_url, from_number="Tanntid",
                               api_url=twilio_url, timeout=0.3)
    try:
        sent = await channel.send(notification_id=60, to_e164=TO, body=first,
                                  validity_seconds=60)
        # made a minute before the second: inside the lookup's window, and no
        # tie on Twilio's whole-second creation times
        [earlier] = fake_twilio.messages_for(60)
        earlier.date_created -= timedelta(minutes=1)
        fake_twilio.response_delay = 1.5
        in_doubt = await channel.send(notification_id=61, to_e164=TO, body=second,
                                      validity_seconds=60)
        fake_twilio.response_delay = 0.0
        found = await channel.lookup(notification_id=61, provider_ref=None)
    finally:
        await channel.aclose()
    assert sent.outcome is SendOutcome.ACCEPTED
    assert in_doubt.outcome is SendOutcome.UNKNOWN
    [message] = fake_twilio.messages_for(61)
    assert found is not None and found.provider_ref == message.sid != sent.provider_ref
    assert fake_twilio.deliveries() == {60: 1, 61: 1}


async def deliver(channel: TwilioSmsChannel, notification_id: int, body: str) -> None:
    """The hand-over protocol the job follows: RETRY → send again; UNKNOWN →
    look up (again while the lookup cannot tell), and send again only when
    Twilio certainly has no such message."""
    for _ in range(50):
        result = await channel.send(notification_id=notification_id, to_e164=TO, body=body,
                                    validity_seconds=60)
        if result.outcome is SendOutcome.ACCEPTED:
            return
        if result.outcome is SendOutcome.UNKNOWN:
            found = await channel.lookup(notification_id=notification_id, provider_ref=None)
            while found is not None and found.outcome is SendOutcome.UNKNOWN:
                found = await channel.lookup(notification_id=notification_id,
                                             provider_ref=None)
            if found is not None:
                return
    raise AssertionError("not delivered in 50 attempts")


async def test_flaky_twilio_delivers_each_notification_exactly_once(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail(0.3, (500, 429, 503), create_before_error=True)
    for notification_id in range(100, 140):
        await deliver(sms, notification_id, f"{BODY} #{notification_id}")
    assert fake_twilio.injected_errors[500] > 2
    assert fake_twilio.injected_errors[429] + fake_twilio.injected_errors[503] > 2
    assert fake_twilio.deliveries() == {n: 1 for n in range(100, 140)}


async def test_status_callbacks_are_signed_and_verify(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, receiver: CallbackReceiver) -> None:
    result = await sms.send(notification_id=20, to_e164=TO, body=BODY, validity_seconds=60)
    assert await fake_twilio.settle()

    assert receiver.refused == 0
    assert receiver.statuses(20) == ["queued", "sent", "delivered"]
    final = receiver.receipts[-1][1]
    assert (final.provider_ref, final.status, final.is_final) == (
        result.provider_ref, "delivered", True)
    assert [c.answer for c in fake_twilio.callbacks] == [204, 204, 204]


async def test_forged_and_unsigned_callbacks_are_refused(
        fake_twilio: FakeTwilio, receiver: CallbackReceiver) -> None:
    url = f"{receiver.public_url}/webhooks/twilio/status?n=21"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered",
              "AccountSid": fake_twilio.account_sid}
    good = RequestValidator(fake_twilio.auth_token).compute_signature(url, params)
    forged = RequestValidator("not-the-token").compute_signature(url, params)
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(url, data=params)
        wrong_key = await client.post(url, data=params, headers={"X-Twilio-Signature": forged})
        tampered = await client.post(url, data={**params, "MessageStatus": "failed"},
                                     headers={"X-Twilio-Signature": good})
        other_id = await client.post(url.replace("n=21", "n=22"), data=params,
                                     headers={"X-Twilio-Signature": good})
        genuine = await client.post(url, data=params, headers={"X-Twilio-Signature": good})
    assert [r.status_code for r in (unsigned, wrong_key, tampered, other_id)] == [403] * 4
    assert genuine.status_code == 204
    assert receiver.refused == 4
    assert [(n, r.status) for n, r in receiver.receipts] == [(21, "delivered")]


def test_signature_accepts_unknown_parameters_and_rejects_missing_ones() -> None:
    url = "https://tanntid.example/webhooks/twilio/status?n=5"
    params = {"MessageSid": "SM1", "MessageStatus": "sent", "NewTwilioField": "x"}
    signature = RequestValidator("token").compute_signature(url, params)
    assert verify_twilio_signature("token", url, params, signature)
    assert not verify_twilio_signature("token", url, {"MessageSid": "SM1"}, signature)
    assert not verify_twilio_signature("token", url, params, None)
    assert not verify_twilio_signature("token", url, params, "")
    assert not verify_twilio_signature("", url, params, signature)


async def test_duplicated_callbacks_arrive_twice_and_parse_the_same(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, receiver: CallbackReceiver) -> None:
    fake_twilio.duplicate_callbacks = True
    await sms.send(notification_id=30, to_e164=TO, body=BODY, validity_seconds=60)
    assert await fake_twilio.settle()
    assert receiver.statuses(30) == ["queued", "queued", "sent", "sent",
                                     "delivered", "delivered"]
    assert receiver.refused == 0


async def test_reordered_callbacks_end_in_the_right_final_status(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, receiver: CallbackReceiver) -> None:
    fake_twilio.reorder_callbacks = True
    fake_twilio.mark("+4791000030", "landline")
    await sms.send(notification_id=31, to_e164="+4791000030", body=BODY, validity_seconds=60)
    assert await fake_twilio.settle()

    assert receiver.statuses(31) == ["undelivered", "sent", "queued"]
    # The rule the core applies: the first final status wins, later ones are ignored.
    final = next(r for n, r in receiver.receipts if n == 31 and r.is_final)
    assert (final.status, final.error_code, final.number_unusable) == (
        "permanent-failure", 30006, True)
    assert [r.is_final for n, r in receiver.receipts if n == 31] == [True, False, False]


async def test_unreachable_handset_is_a_temporary_failure(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, receiver: CallbackReceiver) -> None:
    fake_twilio.mark("+4791000031", "unreachable")
    result = await sms.send(notification_id=32, to_e164="+4791000031", body=BODY,
                            validity_seconds=60)
    assert await fake_twilio.settle()
    _, last = receiver.receipts[-1]
    assert (last.twilio_status, last.status, last.error_code) == (
        "undelivered", "temporary-failure", 30003)
    assert last.number_unusable is False
    looked_up = await sms.lookup(notification_id=32, provider_ref=result.provider_ref)
    assert looked_up is not None
    assert (looked_up.status, looked_up.error_code) == ("temporary-failure", 30003)


def test_parse_status_callback_takes_our_id_from_the_url() -> None:
    form = {"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30005"}
    from_mapping = parse_status_callback(form, {"n": "77"})
    from_url = parse_status_callback(
        form, "https://tanntid.example/webhooks/twilio/status?n=77")
    for notification_id, receipt in (from_mapping, from_url):
        assert notification_id == 77
        assert (receipt.provider_ref, receipt.status, receipt.error_code) == (
            "SM9", "permanent-failure", 30005)
    with pytest.raises(InvalidCallback):
        parse_status_callback(form, {})
    with pytest.raises(InvalidCallback):
        parse_status_callback({"MessageStatus": "sent"}, {"n": "1"})
    _, unknown = parse_status_callback({"MessageSid": "SM1", "MessageStatus": "teleported"},
                                       {"n": "1"})
    assert unknown.status is None


async def test_the_fake_lists_messages_as_twilio_pages_them(
        sms: TwilioSmsChannel, fake_twilio: FakeTwilio, twilio_url: str) -> None:
    for n in range(3):
        await sms.send(notification_id=50 + n, to_e164=TO, body=f"m{n}", validity_seconds=60)
    await sms.send(notification_id=53, to_e164="+4791000099", body="other",
                   validity_seconds=60)
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    base = f"{twilio_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    async with httpx.AsyncClient(auth=auth) as client:
        first = (await client.get(base, params={"To": TO, "PageSize": 2})).json()
        second = (await client.get(twilio_url + first["next_page_uri"])).json()
        records = (await client.get(f"{twilio_url}/_fake/messages")).json()["messages"]
    assert [m["body"] for m in first["messages"]] == ["m2", "m1"]
    assert [m["body"] for m in second["messages"]] == ["m0"]
    assert second["next_page_uri"] is None
    assert sorted(r["notification_id"] for r in records) == [50, 51, 52, 53]
