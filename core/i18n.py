"""The translation catalogs, loaded once per process.

msgids are English; each language's catalog is compiled at setup from
``locales/<lang>/LC_MESSAGES/messages.po`` (``pybabel compile``). Two views
of the same files:

* :func:`catalog`: one language alone, for code that wants to know which
  language a text came from (the SMS templates record it).
* :func:`translations`: one language with its fallback chain, for pages:
  Nynorsk and Northern Sami fall back to Bokmål for a message without a
  translation yet (their readers in Norway read Bokmål, and not all of them
  read English), and Bokmål to the English msgid.

Each view keeps its own objects: a fallback is only ever added to a catalog
loaded for :func:`translations`, never to the shared one :func:`catalog`
returns.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Final

import structlog
from babel.support import Translations

from core.locale import DEFAULT_LANGUAGE

LOCALE_DIR: Final = Path(__file__).resolve().parent.parent / "locales"
DOMAIN: Final = "messages"
#: The language of the msgids: a missing catalog of it loses nothing.
SOURCE_LANGUAGE: Final = "en"
#: The language each one falls back to for a message it lacks.
FALLBACKS: Final[Mapping[str, str]] = {"nn": DEFAULT_LANGUAGE, "se": DEFAULT_LANGUAGE}

log = structlog.get_logger("tanntid.i18n")


def _load(language: str) -> gettext.NullTranslations:
    """A fresh object holding the compiled catalog of ``language`` (the
    msgids, i.e. English, when it has not been compiled)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.exists():
        if language != SOURCE_LANGUAGE:
            log.warning("catalog_not_compiled", locale=language,
                        hint="pybabel compile -d locales")
        return gettext.NullTranslations()
    with path.open("rb") as fp:
        return Translations(fp, domain=DOMAIN)


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` alone, without fallbacks. Shared:
    never add a fallback to it."""
    return _load(language)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` with its fallback chain (nn and se
    → nb → the English msgid)."""
    loaded = _load(language)
    fallback = FALLBACKS.get(language)
    if fallback:
        loaded.add_fallback(translations(fallback))
    return loaded


def reload_catalogs() -> None:
    """Forget every loaded catalog (after compiling them again, in tests)."""
    catalog.cache_clear()
    translations.cache_clear()
