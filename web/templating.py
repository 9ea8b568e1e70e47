"""Jinja2 templates: one shared environment with the i18n extension
(newstyle gettext, so ``_("%(n)s")`` escapes and formats safely) whose
gettext callables read the request's locale from a ``ContextVar``.

``render`` is what views call: it settles the request's language first,
then renders eagerly (Starlette renders in ``TemplateResponse``), so the
right catalog is in use while the template runs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, Final

import jinja2
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from web import i18n
from web.assets import static_url

TEMPLATES = Path(__file__).parent / "templates"


def current_path(request: Request) -> str:
    """Path and query of this request: where the language switcher returns to
    (the front page after a POST, whose address cannot be fetched again)."""
    if request.method not in ("GET", "HEAD"):
        return "/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _page_context(request: Request) -> dict[str, Any]:
    return {
        "lang": i18n.get_locale(),
        "languages": i18n.AUTONYMS,
        "here": current_path(request),
        "correlation_id": getattr(request.state, "correlation_id", ""),
        # Whether the patient session is live (web.auth.access.LiveSessionMiddleware):
        # it decides which header links to show, never what data a page may show.
        "signed_in": bool(getattr(request.state, "signed_in", False)),
    }


def create_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # {% trans %} blocks are extracted and looked up with whitespace collapsed
    # (babel.cfg sets ``trimmed = true`` to match).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True,
        pgettext=i18n.pgettext, npgettext=i18n.npgettext,
    )
    env.globals["static"] = static_url
    env.filters["when"] = i18n.format_when
    env.filters["day"] = i18n.format_day
    env.filters["clock"] = i18n.format_clock
    env.filters["weekday_short"] = i18n.format_weekday_short
    return env


def create_templates() -> Jinja2Blocks:
    # Jinja keeps compiled templates per process: correct by design, the
    # templates are files of the release.
    return Jinja2Blocks(env=create_environment(), context_processors=[_page_context])


def render(request: Request, name: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200, block: str | None = None,
           headers: Mapping[str, str] | None = None) -> Response:
    """Render ``name`` (or only its ``block``) in the request's language."""
    i18n.activate(request)
    templates: Jinja2Blocks = request.app.state.templates
    response = templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status_code, headers=headers,
        block_name=block,
    )
    # The language comes from the cookie or Accept-Language.
    response.headers.add_vary_header("Accept-Language")
    response.headers.add_vary_header("Cookie")
    return response


# --- pages that are the same for every reader -------------------------------

#: The most pages a process keeps rendered (a page per clinic and language).
PAGE_CACHE_ENTRIES: Final = 4096


class PageCache:
    """Rendered pages that are the same for every anonymous reader in one
    language (the landing page, a clinic's public page), kept per process for
    a few seconds so a view costs a dictionary look-up instead of queries and
    a template. An entry is used only while ``fresh`` (given by the page, for
    example a version that a booking bumps) still says so. Never for a signed-
    in reader (the header differs) nor a request with a query string."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, Any, bytes, int]] = {}

    @staticmethod
    def applies(request: Request) -> bool:
        return (request.method in ("GET", "HEAD") and not request.url.query
                and not getattr(request.state, "signed_in", False)
                and "hx-request" not in request.headers)

    async def page(self, request: Request, key: Hashable, *, seconds: float,
                   produce: Callable[[], Awaitable[tuple[Response, Any]]],
                   fresh: Callable[[Any], bool] = lambda _tag: True) -> Response:
        """The page under ``key`` in the request's language: the kept body when
        it is younger than ``seconds`` and ``fresh(tag)``, else ``produce()``
        (a response and the tag to keep with it), kept when it is a 200."""
        if not self.applies(request):
            response, _tag = await produce()
            return response
        full_key = (key, i18n.activate(request), request.url.path)
        found = self._entries.get(full_key)
        if found is not None and time.monotonic() < found[0] and fresh(found[1]):
            response = HTMLResponse(found[2], status_code=found[3])
            response.headers.add_vary_header("Accept-Language")
            response.headers.add_vary_header("Cookie")
            return response
        response, tag = await produce()
        body = getattr(response, "body", None)
        if response.status_code == 200 and isinstance(body, bytes):
            if len(self._entries) >= PAGE_CACHE_ENTRIES:
                self._entries.clear()
            self._entries[full_key] = (time.monotonic() + seconds, tag, body,
                                       response.status_code)
        return response


def page_cache(request: Request) -> PageCache:
    """The app's page cache (made on first use)."""
    cache: PageCache | None = getattr(request.app.state, "page_cache", None)
    if cache is None:
        cache = request.app.state.page_cache = PageCache()
    return cache
