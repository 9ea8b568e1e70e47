"""Reading the booking pages' addresses and forms: every value checked for
shape and length before anything else looks at it. A value that only a
tampered address or form can send is a 400 (:class:`BadInput`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from web.acting import ME, parse_id

#: Any query or form value longer than this is refused unread.
MAX_VALUE: Final = 100
MAX_BODY: Final = 4096
#: More query or form values than this are refused unread.
MAX_VALUES: Final = 20
_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,119}")
_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KEY: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")


class BadInput(HTTPException):
    """A malformed or over-long value: only a tampered address or form sends one."""

    def __init__(self) -> None:
        super().__init__(400)


def value(source: Mapping[str, Any], name: str) -> str | None:
    raw = source.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_VALUE:
        raise BadInput()
    return raw


def id_of(source: Mapping[str, Any], name: str) -> int | None:
    raw = value(source, name)
    if raw is None:
        return None
    parsed = parse_id(raw)
    if parsed is None or parsed == 0:
        raise BadInput()
    return parsed


def day_of(source: Mapping[str, Any]) -> date | None:
    raw = value(source, "day")
    if raw is None:
        return None
    if not _DAY.fullmatch(raw):
        raise BadInput()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput() from None


def slug_of(source: Mapping[str, Any]) -> str | None:
    raw = value(source, "clinic")
    if raw is not None and not _SLUG.fullmatch(raw):
        raise BadInput()
    return raw


def subject_of(source: Mapping[str, Any]) -> tuple[bool, int | None]:
    """(chosen, id) from ``for``: (False, None) when nobody was chosen yet,
    (True, None) for "me"."""
    raw = value(source, "for")
    if raw is None:
        return False, None
    if raw == ME:
        return True, None
    return True, id_of(source, "for")


def form_key(source: Mapping[str, Any], name: str = "key") -> str:
    """The form's idempotency key (or another key of its shape)."""
    raw = value(source, name)
    if raw is None or not _KEY.fullmatch(raw):
        raise BadInput()
    return raw


def new_key() -> str:
    """A fresh idempotency key for a form."""
    return secrets.token_urlsafe(24)


def checked_query(request: Request) -> Mapping[str, str]:
    """The query parameters, refused whole when any is over-long or repeated
    too often (only a hand-made address has such)."""
    params = request.query_params
    if len(params.multi_items()) > MAX_VALUES or any(len(v) > MAX_VALUE
                                                     for v in params.values()):
        raise BadInput()
    day_of(params)
    return params


async def checked_form(request: Request) -> FormData:
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadInput()
    form = await request.form()
    if len(form) > MAX_VALUES or any(not isinstance(v, str) for v in form.values()):
        raise BadInput()
    return form
