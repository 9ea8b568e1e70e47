"""A stand-in for our status-callback webhook."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from notifications.channels.twilio_sms import (
    STATUS_CALLBACK_PATH,
    InvalidCallback,
    StatusReceipt,
    parse_status_callback,
    verify_twilio_signature,
)


@dataclass
class CallbackReceiver:
    """Verifies and records status callbacks the way our webhook must: the
    signature is checked against the *public* URL (base + path + query)."""

    auth_token: str
    public_url: str = ""
    receipts: list[tuple[int, StatusReceipt]] = field(default_factory=list)
    refused: int = 0

    def app(self) -> Starlette:
        async def status(request: Request) -> Response:
            form = await request.form()
            query = request.url.query
            full_url = f"{self.public_url}{request.url.path}" + (f"?{query}" if query else "")
            if not verify_twilio_signature(self.auth_token, full_url, form,
                                           request.headers.get("X-Twilio-Signature")):
                self.refused += 1
                return Response(status_code=403)
            try:
                self.receipts.append(parse_status_callback(form, request.query_params))
            except InvalidCallback:
                return Response(status_code=400)
            return Response(status_code=204)

        return Starlette(routes=[Route(STATUS_CALLBACK_PATH, status, methods=["POST"])])

    def statuses(self, notification_id: int) -> list[str]:
        return [r.twilio_status for n, r in self.receipts if n == notification_id]
