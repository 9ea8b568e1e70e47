"""The landing page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.templating import page_cache, render

#: The landing page changes only with a release (and the reader's language).
LANDING_SECONDS = 60.0


async def landing(request: Request) -> Response:
    async def produce() -> tuple[Response, None]:
        return render(request, "home.html"), None
    return await page_cache(request).page(request, "landing", seconds=LANDING_SECONDS,
                                          produce=produce)
