"""Jinja2 templates: one shared environment with the i18n extension
(newstyle gettext, so ``_("%(n)s")`` escapes and formats safely) whose
gettext callables read the request's locale from a ``ContextVar``.

``render`` is what views call: it settles the request's language first,
then renders eagerly (Starlette renders in ``TemplateResponse``), so the
right catalog is in use while the template runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from web import i18n

TEMPLATES = Path(__file__).parent / "templates"


def static_url(path: str) -> str:
    """A root-relative address under /static (never a CDN)."""
    return "/static/" + path.lstrip("/")


def current_path(request: Request) -> str:
    """Path and query of this request: where the language switcher returns to
    (the front page after a POST, whose address cannot be fetched again)."""
    if request.method not in ("GET", "HEAD"):
        return "/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


PATIENT_COOKIE = "tanntid-session"


def _page_context(request: Request) -> dict[str, Any]:
    return {
        "lang": i18n.get_locale(),
        "languages": i18n.AUTONYMS,
        "here": current_path(request),
        "correlation_id": getattr(request.state, "correlation_id", ""),
        # Only whether a login cookie is there (no lookup): it decides which
        # header links to show, never what data a page may show.
        "signed_in": any(name.endswith(PATIENT_COOKIE) for name in request.cookies),
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
