"""The landing page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.templating import render


async def landing(request: Request) -> Response:
    return render(request, "home.html")
