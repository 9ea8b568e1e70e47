"""SMS through Twilio, with the official ``twilio`` package. The only module
that imports it.

* **Sending** uses ``messages.create_async`` through the package's own
  HTTP-client hook (``Client(http_client=...)``): :class:`AiohttpTwilioClient`
  sends ``https://api.twilio.com/...`` to ``TWILIO_API_URL``, so tests and
  ``make run`` point Twilio at the loopback fake. The channel tells "the
  request never left" (connect errors: safe to retry) from "it may have
  arrived" (read timeouts, dropped connections: :attr:`SendOutcome.UNKNOWN`).
* **Status callbacks** go to ``PUBLIC_URL/webhooks/twilio/status?n=<id>``: our
  notification id rides in the URL, so a receipt never depends on having
  stored the ``MessageSid`` first. :func:`verify_twilio_signature` checks
  ``X-Twilio-Signature`` with the package's ``RequestValidator`` against the
  public URL; :func:`parse_status_callback` turns the form into a receipt.
* **Reconciling** after ``UNKNOWN``: Twilio's Messages API has no idempotency
  key and its message resource does not echo the ``StatusCallback`` URL, so a
  message is found by fetching its SID when we have one, else by listing
  messages to the number and matching the exact body created after the attempt
  began. The channel remembers (in memory) the number, body and start time of
  attempts that ended ``UNKNOWN``, so a lookup right after works with the
  notification id alone; after a restart the caller passes them.

Phone numbers and message bodies are never logged (aiohttp logs no request
lines; the package's own request logging is not used).
"""

from __future__ import annotations

import base64
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from core.bounds import MAX_ID, whole_number
from notifications.channels.base import ProviderStatus, SendOutcome, SmsResult
from notifications.channels.twilio_status import classify_create_error, map_message_status

DEFAULT_API_URL = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
_TWILIO_ORIGIN = "https://api.twilio.com"
_log = logging.getLogger(__name__)
_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "twilio_retry_after", default=None
)


class AiohttpTwilioClient(AsyncHttpClient):
    """The ``twilio`` package's async HTTP-client hook, on aiohttp (as the
    package's own ``AsyncTwilioHttpClient``; httpx's connection pool was an
    order of magnitude slower under concurrency here), sending requests for
    ``https://api.twilio.com`` to ``api_url`` instead. The session is made on
    first use, inside the event loop that uses it."""

    def __init__(self, *, api_url: str = DEFAULT_API_URL, timeout: float = 10.0,
                 connect_timeout: float = 5.0, max_connections: int = 100) -> None:
        super().__init__(_log, is_async=True, timeout=timeout)
        self.api_url = api_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout,
                                              sock_read=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _target(self, url: str) -> str:
        if url.startswith(_TWILIO_ORIGIN):
            return self.api_url + url[len(_TWILIO_ORIGIN):]
        return url

    async def request(
        self, method: str, uri: str, params: dict[str, object] | None = None,
        data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the twilio hook's signature)
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        _retry_after.set(None)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._max_connections))
        # timeout=None would switch aiohttp's timeouts off: pass one only when given.
        extra: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout else {}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        async with self._session.request(
            method.upper(), self._target(uri), params=_plain(params), data=_plain(data),
            headers=headers, allow_redirects=allow_redirects, **extra,
        ) as response:
            text = await response.text()
            _retry_after.set(_parse_retry_after(response.headers.get("Retry-After")))
            return TwilioResponse(response.status, text, response.headers)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _plain(values: dict[str, object] | None) -> dict[str, str] | None:
    if values is None:
        return None
    return {k: str(v) for k, v in values.items() if v is not None}


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


#: Raised before any byte of the request could reach Twilio: safe to retry.
_NOT_SENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)
#: The request may have reached Twilio: reconcile.
_MAYBE_SENT: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class _Attempt:
    to_e164: str
    body: str
    started_at: datetime


class TwilioSmsChannel:
    """:class:`~notifications.channels.base.SmsChannel` for Twilio.

    One instance per process and event loop (its HTTP session belongs to the
    loop that first sends); ``await aclose()`` at shutdown. ``validity_seconds``
    is clamped to Twilio's 1–36000 s."""

    def __init__(self, *, account_sid: str, auth_token: str, public_url: str,
                 messaging_service_sid: str | None = None, from_number: str | None = None,
                 api_url: str = DEFAULT_API_URL, timeout: float = 10.0,
                 connect_timeout: float = 5.0, remember: int = 10_000) -> None:
        if not (messaging_service_sid or from_number):
            raise ValueError("TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM is required")
        self.account_sid = account_sid
        self.public_url = public_url.rstrip("/")
        self.messaging_service_sid = messaging_service_sid or None
        self.from_number = from_number or None
        self.http_client = AiohttpTwilioClient(api_url=api_url, timeout=timeout,
                                               connect_timeout=connect_timeout)
        self._client = Client(account_sid, auth_token, http_client=self.http_client)
        # Never let TWILIO_EDGE/TWILIO_REGION in the environment rewrite the host
        # (it would bypass TWILIO_API_URL).
        self._client.edge = self._client.region = None
        self._unknown: OrderedDict[int, _Attempt] = OrderedDict()
        self._remember = remember

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], **overrides: Any) -> TwilioSmsChannel:
        """From a mapping with the ``TWILIO_*`` and ``PUBLIC_URL`` names."""
        values: dict[str, Any] = {
            "account_sid": settings["TWILIO_ACCOUNT_SID"],
            "auth_token": settings["TWILIO_AUTH_TOKEN"],
            "public_url": settings["PUBLIC_URL"],
            "messaging_service_sid": settings.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            "from_number": settings.get("TWILIO_FROM") or None,
            "api_url": settings.get("TWILIO_API_URL") or DEFAULT_API_URL,
        }
        values.update(overrides)
        return cls(**values)

    def status_callback_url(self, notification_id: int) -> str:
        return f"{self.public_url}{STATUS_CALLBACK_PATH}?{urlencode({'n': notification_id})}"

    async def aclose(self) -> None:
        await self.http_client.aclose()

    # -- sending -----------------------------------------------------------

    async def send(self, *, notification_id: int, to_e164: str, body: str,
                   validity_seconds: int) -> SmsResult:
        sender: dict[str, Any] = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid else {"from_": self.from_number}
        )
        attempt = _Attempt(to_e164, body, datetime.now(UTC))
        self._remember_attempt(notification_id, attempt)
        try:
            message = await self._client.messages.create_async(
                to=to_e164, body=body, status_callback=self.status_callback_url(notification_id),
                validity_period=max(1, min(int(validity_seconds), 36_000)), **sender,
            )
        except TwilioRestException as exc:
            result = self._from_rest_error(exc)
        except _NOT_SENT as exc:
            result = SmsResult(SendOutcome.RETRY, reason=f"Twilio not reached: {_name(exc)}")
        except _MAYBE_SENT as exc:
            result = SmsResult(SendOutcome.UNKNOWN,
                               reason=f"No answer from Twilio ({_name(exc)}): may have been sent")
        else:
            mapped = map_message_status(message.status or "queued", message.error_code)
            result = SmsResult(SendOutcome.ACCEPTED, provider_ref=message.sid,
                               status=mapped.status or "sending", error_code=message.error_code)
        if result.outcome is not SendOutcome.UNKNOWN:
            self._unknown.pop(notification_id, None)
        _log.debug("twilio send", extra={"notification_id": notification_id,
                                         "outcome": str(result.outcome),
                                         "error_code": result.error_code})
        return result

    def _remember_attempt(self, notification_id: int, attempt: _Attempt) -> None:
        self._unknown[notification_id] = attempt
        self._unknown.move_to_end(notification_id)
        while len(self._unknown) > self._remember:
            self._unknown.popitem(last=False)

    def _from_rest_error(self, exc: TwilioRestException) -> SmsResult:
        code = _int_or_none(exc.code)
        found = classify_create_error(exc.status, code)
        retry_after = _retry_after.get() if found.outcome is SendOutcome.RETRY else None
        return SmsResult(found.outcome, status=found.status, error_code=code,
                         retry_after=retry_after, reason=found.reason,
                         opted_out=found.opted_out, number_unusable=found.number_unusable)

    # -- reconciling -------------------------------------------------------

    async def lookup(self, *, notification_id: int, provider_ref: str | None,
                     to_e164: str | None = None, body: str | None = None,
                     sent_after: datetime | None = None) -> SmsResult | None:
        try:
            if provider_ref:
                return await self._fetch(provider_ref)
            attempt = self._unknown.get(notification_id)
            to_e164 = to_e164 or (attempt.to_e164 if attempt else None)
            body = body if body is not None else (attempt.body if attempt else None)
            sent_after = sent_after or (attempt.started_at if attempt else None)
            if not to_e164 or body is None or sent_after is None:
                return SmsResult(SendOutcome.UNKNOWN,
                                 reason="Cannot reconcile without the number, body and time")
            found = await self._find(to_e164, body, sent_after)
        except TwilioRestException as exc:
            return SmsResult(SendOutcome.UNKNOWN, error_code=_int_or_none(exc.code),
                             reason=f"Lookup failed (HTTP {exc.status})")
        except (*_NOT_SENT, *_MAYBE_SENT) as exc:
            return SmsResult(SendOutcome.UNKNOWN, reason=f"Lookup failed: {_name(exc)}")
        if found is not None:
            self._unknown.pop(notification_id, None)
        return found

    async def _fetch(self, sid: str) -> SmsResult | None:
        try:
            message = await self._client.messages(sid).fetch_async()
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise
        return _result_of(message)

    async def _find(self, to_e164: str, body: str, sent_after: datetime) -> SmsResult | None:
        # Twilio lists newest first. Queued messages have no date_sent yet, so
        # filter on the number only and compare creation times here, allowing
        # for clock skew between us and Twilio. A naive time is UTC (SQLite
        # hands back timestamps without their zone).
        if sent_after.tzinfo is None:
            sent_after = sent_after.replace(tzinfo=UTC)
        since = sent_after.astimezone(UTC) - timedelta(minutes=2)
        messages = await self._client.messages.list_async(to=to_e164, limit=100, page_size=100)
        matches = [m for m in messages if m.body == body
                   and (m.date_created is None or m.date_created >= since)]
        if not matches:
            return None
        earliest = min(matches, key=lambda m: m.date_created or since)
        return _result_of(earliest)


def _result_of(message: Any) -> SmsResult:
    mapped = map_message_status(message.status or "", message.error_code)
    return SmsResult(SendOutcome.ACCEPTED, provider_ref=message.sid, status=mapped.status,
                     error_code=message.error_code, reason=mapped.reason,
                     opted_out=mapped.opted_out, number_unusable=mapped.number_unusable)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _name(exc: BaseException) -> str:
    return type(exc).__name__


# -- status callbacks ------------------------------------------------------


def verify_twilio_signature(auth_token: str, full_url: str, form_params: Mapping[str, Any],
                            signature: str | None, *,
                            signature_settings: str | None = None) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) is Twilio's
    signature of this request: HMAC of the full public URL (as Twilio called
    it, query included) and the sorted form parameters, by the package's
    ``RequestValidator``. Unknown parameters are part of the signature, so new
    ones Twilio adds keep verifying. ``signature_settings`` is the
    ``X-Twilio-Webhooks-Signature-Settings`` header, if any."""
    if not signature or not auth_token:
        return False
    algorithm = get_signature_algorithm(signature_settings)
    return bool(RequestValidator(auth_token).validate(full_url, form_params, signature,
                                                      algorithm=algorithm))


class InvalidCallback(ValueError):
    """A status callback without the parameters every callback has."""


@dataclass(frozen=True)
class StatusReceipt:
    """What one Twilio status callback says, in our words."""

    provider_ref: str
    twilio_status: str
    #: ``None``: a status we don't know (log it and change nothing).
    status: ProviderStatus | None
    error_code: int | None
    reason: str | None
    opted_out: bool
    number_unusable: bool
    received_at: float

    @property
    def is_final(self) -> bool:
        return self.status in ("delivered", "temporary-failure", "permanent-failure",
                               "technical-failure")


def parse_status_callback(form: Mapping[str, Any], query: Mapping[str, Any] | str
                          ) -> tuple[int, StatusReceipt]:
    """(notification id, receipt) from a callback's form and its URL's query
    (a mapping, or the query string or full URL). Raises
    :class:`InvalidCallback` when a required part is missing."""
    if isinstance(query, str):
        text = urlsplit(query).query if "?" in query or "://" in query else query
        query = {k: v[0] for k, v in parse_qs(text).items()}
    notification_id = whole_number(query.get("n"), low=1, high=MAX_ID)
    if notification_id is None:
        raise InvalidCallback("no notification id in the callback URL")
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    twilio_status = str(form.get("MessageStatus") or form.get("SmsStatus") or "")
    if not sid or not twilio_status:
        raise InvalidCallback("MessageSid and MessageStatus are required")
    raw_code = form.get("ErrorCode") or None
    error_code = None if raw_code is None else whole_number(raw_code)
    if raw_code is not None and error_code is None:
        raise InvalidCallback("ErrorCode is not a Twilio error code")
    mapped = map_message_status(twilio_status, error_code)
    return notification_id, StatusReceipt(
        provider_ref=sid, twilio_status=twilio_status.lower(), status=mapped.status,
        error_code=error_code, reason=mapped.reason, opted_out=mapped.opted_out,
        number_unusable=mapped.number_unusable, received_at=time.time(),
    )
