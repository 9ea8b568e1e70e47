"""Stylesheets and scripts under ``/static``, with addresses that name their
content so browsers keep them.

:func:`static_url` adds a short hash of the file's content to its address
(``/static/css/tanntid.css?v=3f2a9c1e04``), read once per process: the files
are part of the release. :class:`AssetFiles` serves them; an address whose
``v`` is the file's current hash may be kept for a year without asking again
(``immutable``), so a page view costs one request instead of nine. Any other
address (no ``v``, or one of an earlier release) must be revalidated
(``no-cache``), so a new release is never hidden behind an old copy.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC: Final = Path(__file__).parent / "static"
#: A release's files for a year; each new content gets a new address.
KEEP: Final = "public, max-age=31536000, immutable"
ASK_AGAIN: Final = "no-cache"


@cache
def fingerprint(path: str) -> str | None:
    """The first 10 hex digits of the SHA-256 of the file at ``path`` (under
    ``/static``), or None if there is no such file."""
    try:
        content = (STATIC / path).read_bytes()
    except OSError:
        return None
    return hashlib.sha256(content).hexdigest()[:10]


def static_url(path: str) -> str:
    """A root-relative address under /static (never a CDN), naming the
    file's content where the file exists."""
    path = path.lstrip("/")
    version = fingerprint(path)
    return f"/static/{path}" + (f"?v={version}" if version else "")


class AssetFiles(StaticFiles):
    """``StaticFiles`` with the cache rule of the module docstring."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [])
        current = fingerprint(self.get_path(scope)) if asked else None
        fresh = current is not None and asked == [current]
        response.headers["Cache-Control"] = KEEP if fresh else ASK_AGAIN
        return response
