"""Pages of the login flow (``web/templates/auth``) and of the local test
provider (its own templates, ``idporten/templates``) in the service's own
layout (``base.html``), in the reader's language, never cached."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from idporten.local_provider import TEMPLATES as PROVIDER_TEMPLATES
from web import i18n
from web.templating import create_environment, current_path


def _context(request: Request) -> dict[str, Any]:
    return {
        "lang": i18n.get_locale(),
        "languages": i18n.AUTONYMS,
        "here": current_path(request),
        "correlation_id": getattr(request.state, "correlation_id", ""),
    }


# Per process, correct by design: templates are files of the release.
@cache
def templates() -> Jinja2Blocks:
    env = create_environment()
    assert env.loader is not None
    env.loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(PROVIDER_TEMPLATES), env.loader])
    return Jinja2Blocks(env=env, context_processors=[_context])


def render(request: Request, name: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    i18n.activate(request)
    response = templates().TemplateResponse(request, name, dict(context or {}),
                                            status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers.add_vary_header("Accept-Language")
    response.headers.add_vary_header("Cookie")
    return response
