"""``/hjelp`` says what replies to our text messages do (JA, ENDRE,
AVBESTILL, HJELP: ``notifications/reply_actions.py``), in the reader's
language, and that a patient may cancel online until the appointment starts."""

from __future__ import annotations

import httpx
import pytest

from tests.pages import html, text_of

HELP = {
    "nb": ("eller svarer JA på SMS-en vår. Svar ENDRE for å endre tiden, AVBESTILL for å "
           "avbestille og HJELP for hjelp.", "Du kan avbestille på nett helt til timen "
           "begynner."),
    "nn": ("eller svarar JA på SMS-en vår. Svar ENDRE for å endre tida, AVBESTILL for å "
           "avbestille og HJELP for hjelp.", "Du kan avbestille på nett heilt til "
           "timen byrjar."),
    "en": ("or reply YES to our text message. Reply CHANGE to change the time, CANCEL to "
           "cancel it and HELP for help.", "You can cancel online until the "
           "appointment starts."),
    "se": ("dahje vástidat JUO min SMS-dieđáhussii.", "Sáhtát sihkkut áiggi neahtas "
           "gitta dassážii go áigi álgá."),
}


@pytest.mark.parametrize("lang", sorted(HELP))
async def test_help_says_what_replies_do(client: httpx.AsyncClient, lang: str) -> None:
    replies, cancel = HELP[lang]
    soup = html(await client.get("/hjelp", headers={"Accept-Language": lang}))
    assert soup.html["lang"] == lang
    page = soup.select_one("main").get_text(" ", strip=True)
    assert replies in page
    assert cancel in text_of(soup, "section[aria-labelledby=late-heading]")
