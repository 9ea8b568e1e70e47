"""Reading the HTML pages the app returns."""

from __future__ import annotations

import httpx
from bs4 import BeautifulSoup


def html(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def text_of(soup: BeautifulSoup, selector: str) -> str:
    """The whitespace-normalised text of the one element ``selector`` finds."""
    found = soup.select(selector)
    assert len(found) == 1, f"{selector!r} matched {len(found)} elements"
    return " ".join(found[0].get_text(" ").split())
