"""``/hjelp`` promises nothing about SMS replies (they change nothing yet), and
says that a patient may cancel online until the appointment starts."""

from __future__ import annotations

import httpx
import pytest

from tests.pages import html, text_of

HELP = {
    "nb": ("Svar på SMS-ene våre blir ikke lest.", "Du kan avbestille på nett helt til timen "
           "begynner."),
    "nn": ("Svar på SMS-ane våre blir ikkje lesne.", "Du kan avbestille på nett heilt til "
           "timen byrjar."),
    "en": ("Replies to our text messages are not read.", "You can cancel online until the "
           "appointment starts."),
    "se": ("Vástádusat min SMS-dieđáhusaide eai lohkojuvvo.", "Sáhtát sihkkut áiggi neahtas "
           "gitta dassážii go áigi álgá."),
}


@pytest.mark.parametrize("lang", sorted(HELP))
async def test_help_promises_nothing_about_replies(client: httpx.AsyncClient,
                                                   lang: str) -> None:
    replies, cancel = HELP[lang]
    soup = html(await client.get("/hjelp", headers={"Accept-Language": lang}))
    assert soup.html["lang"] == lang
    page = soup.select_one("main").get_text(" ", strip=True)
    assert replies in page
    assert cancel in text_of(soup, "section[aria-labelledby=late-heading]")
    for promise in ("Svar JA", "Reply JA", "Vástit JA", "JA"):
        assert promise not in page
