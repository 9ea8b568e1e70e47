"""Page or fragment: one template per page, its fragments as named blocks.

An htmx request that targets one of the page's fragments gets only that
block; everything else gets the whole page: ordinary requests, boosted
requests (``HX-Boosted``: htmx swaps the whole body) and history restores
(``HX-History-Restore-Request``: htmx needs a whole page for its cache miss).
The answer always carries ``Vary: HX-Request`` so no cache hands a fragment
to a browser that asked for a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from web.templating import render


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def targeted_block(request: Request, fragments: Mapping[str, str]) -> str | None:
    """The block to render for this request, or None for the whole page.

    ``fragments`` maps an element id that htmx may target (``HX-Target``) to
    the name of the template block that renders that element's content.
    """
    if not is_htmx(request):
        return None
    if request.headers.get("hx-boosted") == "true":
        return None
    if request.headers.get("hx-history-restore-request") == "true":
        return None
    return fragments.get(request.headers.get("hx-target", ""))


def page_or_fragment(request: Request, name: str, context: Mapping[str, Any], *,
                     fragments: Mapping[str, str], status_code: int = 200) -> Response:
    """Render the page ``name``, or only the block its htmx target asks for."""
    block = targeted_block(request, fragments)
    # ``fragment`` lets a block add what only a swap needs (out-of-band updates).
    context = {**context, "fragment": block is not None}
    response = render(request, name, context, status_code=status_code, block=block)
    response.headers.add_vary_header("HX-Request")
    if block is not None:
        # A fragment is never a page to come back to.
        response.headers["Cache-Control"] = "no-store"
    return response
