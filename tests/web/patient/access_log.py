"""Reading the access log page (``/innsyn``): its lines as (who, what, why),
in English."""

from __future__ import annotations

from tests.pages import text_of

#: Ask for the page in English, the language the expected lines are in.
EN = {"Accept-Language": "en"}


def lines(soup) -> list[tuple[str, str, str]]:
    return [(text_of(entry, ".access-log__who"), text_of(entry, ".access-log__what"),
             text_of(entry, ".access-log__why"))
            for entry in soup.select(".access-log__entry")]
