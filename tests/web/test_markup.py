"""The markup validates: htmx's attributes in their ``data-hx-*`` form, which
htmx reads as well as ``hx-*`` and which the HTML standard allows."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.pages import html

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [*(ROOT / "web" / "templates").rglob("*.html"),
             *(ROOT / "notifications" / "templates_html").rglob("*.html")]
BARE_HTMX = re.compile(r"(?<![-\w])hx-[a-z-]+\s*=")


def test_no_template_uses_a_bare_hx_attribute() -> None:
    assert TEMPLATES
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in TEMPLATES
             for match in BARE_HTMX.finditer(path.read_text(encoding="utf-8"))]
    assert found == []


async def test_pages_with_htmx_carry_only_data_hx_attributes(
        client: httpx.AsyncClient) -> None:
    for path in ("/", "/klinikker"):
        soup = html(await client.get(path))
        attributes = {name for tag in soup.find_all(True) for name in tag.attrs}
        assert not {name for name in attributes if name.startswith("hx-")}, path
    soup = html(await client.get("/klinikker"))
    assert soup.select("[data-hx-get]"), "the clinic search still uses htmx"
