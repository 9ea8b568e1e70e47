"""A local stand-in for Twilio's Messages API, speaking its wire protocol, for
tests, benchmarks and ``make run``. Never for production.

Endpoints (as Twilio's REST API 2010-04-01):

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: HTTP basic auth
  with the account SID and auth token; form parameters ``To``, ``From`` or
  ``MessagingServiceSid``, ``Body``, ``StatusCallback``, ``ValidityPeriod``.
  Answers 201 with the message resource, or Twilio's error JSON
  (``{"code", "message", "more_info", "status"}``).
* ``GET .../Messages/{MessageSid}.json``: the message (404, code 20404, if unknown).
* ``GET .../Messages.json``: a page of messages, newest first, filtered by
  ``To``, ``From``, ``DateSent``/``DateSent<``/``DateSent>``, paged by
  ``PageSize`` and ``Page`` with ``next_page_uri``.

After a message is created, its status moves on (``accepted`` → ``queued`` for
a Messaging Service, → ``sent`` → ``delivered``, or ``undelivered``/``failed``
with an ``ErrorCode``) and each change is POSTed to the message's
``StatusCallback`` URL, form-encoded and signed with ``X-Twilio-Signature``
exactly as Twilio does (``RequestValidator.compute_signature`` over the URL and
the parameters), with no callback for the initial status.

Controls (Python attributes, or ``POST /_fake/config`` and ``POST
/_fake/numbers`` with JSON): fail a fraction of creates with 500, 503 or 429
(optionally creating the message before a 500/502/504, as a front door
failing after the back end took it; 503 and 429 never create), delay
responses (after the message is created: a client timeout then means "maybe
sent"), delay, duplicate or reverse the callbacks, and mark numbers as
landline (30006), unreachable (30003), opted out (21610, refused at creation)
or invalid (21211).

Records: every accepted message with the notification id taken from its
``StatusCallback`` URL (``?n=``), so tests count deliveries per notification
exactly (:meth:`FakeTwilio.deliveries`), and every callback with the answer it
got. ``GET /_fake/messages`` returns the same as JSON, ``GET /_fake/stats`` the
counts. ``python -m notifications.fakes.twilio --port N`` serves a fake in a
process of its own (credentials printed as JSON on stdout).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from notifications.segments import count_segments

API = "/2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ERRORS = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}
#: Number behaviours and the error code each produces.
BEHAVIOURS = {"landline": 30006, "unreachable": 30003, "opted_out": 21610, "invalid": 21211,
              "unknown": 30005, "not_mobile": 21614}
_AT_CREATION = {21610, 21211, 21614}


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(when: datetime | None) -> str | None:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000") if when else None


@dataclass
class CallbackRecord:
    message_sid: str
    notification_id: int | None
    status: str
    error_code: int | None
    url: str
    #: The receiver's HTTP status, or None when it could not be reached.
    answer: int | None


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    to: str = field(repr=False)
    from_: str | None
    messaging_service_sid: str | None
    body: str = field(repr=False)
    status_callback: str | None
    validity_period: int | None
    notification_id: int | None
    status: str
    date_created: datetime
    error_code: int | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None

    def resource(self) -> dict[str, Any]:
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_sent),
            "date_updated": _rfc2822(self.date_updated or self.date_created),
            "direction": "outbound-api", "error_code": self.error_code,
            "error_message": None, "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0", "num_segments": str(count_segments(self.body).segments),
            "price": None, "price_unit": "USD", "sid": self.sid, "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to, "uri": uri,
        }


def notification_id_of(status_callback: str | None) -> int | None:
    if not status_callback:
        return None
    values = parse_qs(urlsplit(status_callback).query).get("n")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


class FakeTwilio:
    """The fake's state, controls and records; :attr:`app` serves it."""

    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None,
                 sender_id: str = "Tanntid", seed: int | None = None) -> None:
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.sender_id = sender_id
        self.rng = random.Random(seed)
        # Controls.
        self.error_rate = 0.0
        self.error_statuses: tuple[int, ...] = (500, 429)
        self.create_before_error = False
        self.response_delay = 0.0
        self.callbacks_enabled = True
        self.callback_delay = 0.0
        self.duplicate_callbacks = False
        self.reorder_callbacks = False
        self.numbers: dict[str, str] = {}
        # Records.
        self.messages: dict[str, FakeMessage] = {}
        self.callbacks: list[CallbackRecord] = []
        self.create_requests = 0
        self.injected_errors: Counter[int] = Counter()
        self._per_notification: Counter[int] = Counter()
        self._duplicates = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.app = self._build_app()

    # -- controls ----------------------------------------------------------

    def fail(self, rate: float, statuses: tuple[int, ...] = (500, 429), *,
             create_before_error: bool = False) -> None:
        """Answer ``rate`` of creates with one of ``statuses``."""
        self.error_rate, self.error_statuses = rate, statuses
        self.create_before_error = create_before_error

    def mark(self, number: str, behaviour: str) -> None:
        """``behaviour``: landline, unreachable, opted_out, invalid, unknown,
        not_mobile (see :data:`BEHAVIOURS`), or ``ok`` to clear."""
        if behaviour == "ok":
            self.numbers.pop(number, None)
        elif behaviour in BEHAVIOURS:
            self.numbers[number] = behaviour
        else:
            raise ValueError(f"unknown behaviour {behaviour!r}")

    # -- records -----------------------------------------------------------

    def messages_for(self, notification_id: int) -> list[FakeMessage]:
        with self._lock:
            return [m for m in self.messages.values() if m.notification_id == notification_id]

    def deliveries(self) -> Counter[int]:
        """Accepted messages per notification id."""
        with self._lock:
            return self._per_notification.copy()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every scheduled callback has been sent."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    async def settle(self, within: float = 10.0) -> bool:
        """:meth:`wait_idle` for async callers."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            await asyncio.sleep(0.01)
        return False

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self._per_notification.clear()
            self._duplicates = 0
            self.callbacks.clear()
            self.injected_errors.clear()
            self.create_requests = 0

    # -- HTTP --------------------------------------------------------------

    def _build_app(self) -> Starlette:
        base = f"{API}/Accounts/{{account_sid}}"
        return Starlette(routes=[
            Route(f"{base}/Messages.json", self._create, methods=["POST"]),
            Route(f"{base}/Messages.json", self._list, methods=["GET"]),
            Route(f"{base}/Messages/{{sid}}.json", self._fetch, methods=["GET"]),
            Route("/_fake/messages", self._dump, methods=["GET"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/_fake/config", self._config, methods=["POST"]),
            Route("/_fake/numbers", self._number, methods=["POST"]),
        ], lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10.0),
                                           connector=aiohttp.TCPConnector(limit=100))
        try:
            yield
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._http.close()
            self._http = None

    def _error(self, code: int, status: int) -> JSONResponse:
        return JSONResponse({"code": code, "message": _ERRORS.get(code, "Error"),
                             "more_info": f"https://www.twilio.com/docs/errors/{code}",
                             "status": status}, status_code=status)

    def _authorised(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (secrets.compare_digest(user, self.account_sid)
                and secrets.compare_digest(password, self.auth_token)
                and request.path_params["account_sid"] == self.account_sid)

    async def _create(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(20003, 401)
        form = await request.form()
        with self._lock:
            self.create_requests += 1
            injected = (self.rng.choice(self.error_statuses)
                        if self.error_rate and self.rng.random() < self.error_rate else None)
        if injected is not None:
            with self._lock:
                self.injected_errors[injected] += 1
            if injected in (500, 502, 504) and self.create_before_error:
                self._accept(form)  # 503 and 429 mean "not taken", as at Twilio
            code = {429: 20429, 503: 20503}.get(injected, 20500)
            headers = {"Retry-After": "1"} if injected == 429 else {}
            response = self._error(code, injected)
            response.headers.update(headers)
            return response
        to = str(form.get("To") or "")
        behaviour = self.numbers.get(to)
        if not _E164.match(to) or behaviour == "invalid":
            return self._error(21211, 400)
        if behaviour in ("opted_out", "not_mobile"):
            return self._error(BEHAVIOURS[behaviour], 400)
        if not form.get("Body"):
            return self._error(21602, 400)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(21603, 400)
        message = self._accept(form)
        if self.response_delay:
            await asyncio.sleep(self.response_delay)  # it exists; the answer is late
        return JSONResponse(message.resource(), status_code=201)

    def _accept(self, form: Any) -> FakeMessage:
        service = str(form.get("MessagingServiceSid") or "") or None
        callback = str(form.get("StatusCallback") or "") or None
        validity = form.get("ValidityPeriod")
        message = FakeMessage(
            sid=new_sid("SM"), account_sid=self.account_sid, to=str(form.get("To")),
            from_=str(form.get("From") or "") or (None if service else self.sender_id),
            messaging_service_sid=service, body=str(form.get("Body")),
            status_callback=callback, validity_period=int(validity) if validity else None,
            notification_id=notification_id_of(callback),
            status="accepted" if service else "queued", date_created=datetime.now(UTC),
        )
        steps = self._steps(message)
        with self._lock:
            self.messages[message.sid] = message
            if message.notification_id is not None:
                self._per_notification[message.notification_id] += 1
                if self._per_notification[message.notification_id] > 1:
                    self._duplicates += 1
            if steps:
                self._pending += 1
        if steps:
            task = asyncio.get_running_loop().create_task(self._progress(message, steps))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return message

    def _steps(self, message: FakeMessage) -> list[tuple[str, int | None]]:
        steps: list[tuple[str, int | None]] = []
        if message.status == "accepted":
            steps.append(("queued", None))
        steps.append(("sent", None))
        behaviour = self.numbers.get(message.to)
        if behaviour in ("landline", "unreachable", "unknown"):
            steps.append(("undelivered", BEHAVIOURS[behaviour]))
        else:
            steps.append(("delivered", None))
        return steps

    async def _progress(self, message: FakeMessage, steps: list[tuple[str, int | None]]
                        ) -> None:
        try:
            calls: list[tuple[str, int | None]] = []
            for status, code in steps:
                if self.callback_delay:
                    await asyncio.sleep(self.callback_delay)
                with self._lock:
                    now = datetime.now(UTC)
                    message.status, message.error_code, message.date_updated = status, code, now
                    if status == "sent":
                        message.date_sent = now
                calls.append((status, code))
                if not self.reorder_callbacks:
                    await self._callback_times(message, status, code)
            if self.reorder_callbacks:
                for status, code in reversed(calls):
                    await self._callback_times(message, status, code)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    async def _callback_times(self, message: FakeMessage, status: str, code: int | None
                              ) -> None:
        if not (self.callbacks_enabled and message.status_callback):
            return
        for _ in range(2 if self.duplicate_callbacks else 1):
            await self._post_callback(message, status, code)

    def callback_params(self, message: FakeMessage, status: str, code: int | None
                        ) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid, "ApiVersion": "2010-04-01",
            "From": message.from_ or self.sender_id, "MessageSid": message.sid,
            "MessageStatus": status, "SmsSid": message.sid, "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if code is not None:
            params["ErrorCode"] = str(code)
        if status == "delivered":
            params["RawDlrDoneDate"] = datetime.now(UTC).strftime("%y%m%d%H%M")
        return params

    async def _post_callback(self, message: FakeMessage, status: str, code: int | None
                             ) -> None:
        url = str(message.status_callback)
        params = self.callback_params(message, status, code)
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        answer: int | None
        try:
            assert self._http is not None
            async with self._http.post(url, data=params, headers={
                "X-Twilio-Signature": signature,
                "I-Twilio-Idempotency-Token": secrets.token_hex(16),
                "User-Agent": "TwilioProxy/1.1",
            }) as response:
                await response.read()
                answer = response.status
        except (aiohttp.ClientError, TimeoutError):
            answer = None
        with self._lock:
            self.callbacks.append(CallbackRecord(message.sid, message.notification_id, status,
                                                 code, url, answer))

    async def _fetch(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(20003, 401)
        with self._lock:
            message = self.messages.get(request.path_params["sid"])
            body = message.resource() if message else None
        if body is None:
            return self._error(20404, 404)
        return JSONResponse(body)

    async def _list(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(20003, 401)
        q = request.query_params
        with self._lock:
            found = list(self.messages.values())
        found.reverse()  # newest first (insertion order is creation order)
        if q.get("To"):
            found = [m for m in found if m.to == q["To"]]
        if q.get("From"):
            found = [m for m in found if m.from_ == q["From"]]
        for key, keep in (("DateSent", lambda d, v: d == v), ("DateSent<", lambda d, v: d <= v),
                          ("DateSent>", lambda d, v: d >= v)):
            if q.get(key):
                day = q[key][:10]
                found = [m for m in found
                         if m.date_sent and keep(m.date_sent.date().isoformat(), day)]
        size = max(1, min(int(q.get("PageSize") or 50), 1000))
        page = max(0, int(q.get("Page") or 0))
        chunk = found[page * size:(page + 1) * size]
        path = request.url.path
        filters = {k: v for k, v in q.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(p: int) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': p})}"

        more = (page + 1) * size < len(found)
        return JSONResponse({
            "messages": [m.resource() for m in chunk],
            "start": page * size, "end": page * size + max(len(chunk) - 1, 0),
            "page": page, "page_size": size, "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page else None,
        })

    async def _dump(self, request: Request) -> Response:
        with self._lock:
            rows = [{**m.resource(), "notification_id": m.notification_id}
                    for m in self.messages.values()]
        return JSONResponse({"messages": rows})

    def stats(self) -> dict[str, Any]:
        """Counts for benchmarks and for a fake run in another process."""
        per_notification = self.deliveries()
        with self._lock:
            return {"accepted": len(self.messages), "create_requests": self.create_requests,
                    "notifications": len(per_notification),
                    "duplicates": sum(n - 1 for n in per_notification.values() if n > 1),
                    "callbacks": len(self.callbacks), "pending_callbacks": self._pending,
                    # The receiver's HTTP status per callback ("none": unreachable).
                    "callback_answers": dict(Counter(str(c.answer).lower()
                                                     for c in self.callbacks)),
                    "injected_errors": {str(k): v for k, v in self.injected_errors.items()}}

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _config(self, request: Request) -> Response:
        data = await request.json()
        for key in ("error_rate", "create_before_error", "response_delay", "callbacks_enabled",
                    "callback_delay", "duplicate_callbacks", "reorder_callbacks"):
            if key in data:
                setattr(self, key, type(getattr(self, key))(data[key]))
        if "error_statuses" in data:
            self.error_statuses = tuple(int(s) for s in data["error_statuses"])
        return JSONResponse({"ok": True})

    async def _number(self, request: Request) -> Response:
        data = await request.json()
        with contextlib.suppress(KeyError, ValueError):
            self.mark(str(data["number"]), str(data["behaviour"]))
            return JSONResponse({"ok": True})
        return JSONResponse({"ok": False}, status_code=400)


def main(argv: list[str] | None = None) -> None:
    """Serve a fake Twilio in this process until interrupted."""
    import argparse
    import json
    import sys

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--account-sid")
    parser.add_argument("--auth-token")
    parser.add_argument("--no-callbacks", action="store_true")
    args = parser.parse_args(argv)
    fake = FakeTwilio(account_sid=args.account_sid, auth_token=args.auth_token)
    fake.callbacks_enabled = not args.no_callbacks
    print(json.dumps({"TWILIO_ACCOUNT_SID": fake.account_sid,
                      "TWILIO_AUTH_TOKEN": fake.auth_token,
                      "TWILIO_API_URL": f"http://{args.host}:{args.port}"}), flush=True)
    sys.stdout.flush()
    uvicorn.run(fake.app, host=args.host, port=args.port, log_config=None,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
