"""The translation catalogs: complete in Bokmål, consistent placeholders,
the right plural rule for Northern Sami, and a .pot that matches the sources."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from babel.plural import to_gettext

from tests.catalogs import LOCALES, ROOT
from web.i18n import LOCALES as LANGUAGES

POT = LOCALES / "messages.pot"


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def _ids(catalog: Catalog) -> set[tuple[str | None, object]]:
    return {(message.context, message.id) for message in catalog if message.id}


def _po(locale: str) -> Path:
    return LOCALES / locale / "LC_MESSAGES" / "messages.po"


def test_every_message_is_translated_in_bokmal() -> None:
    template = _read(POT)
    nb = _read(_po("nb"), "nb")
    missing = []
    for message in template:
        if not message.id:
            continue
        translated = nb.get(message.id, context=message.context)
        strings = (translated.string if translated and isinstance(translated.string, tuple)
                   else (translated.string,) if translated else ("",))
        if translated is None or translated.fuzzy or not all(strings):
            missing.append(message.id)
    assert missing == [], "untranslated in locales/nb (run `make messages`, then translate)"


@pytest.mark.parametrize("locale", LANGUAGES)
def test_catalogs_exist_and_match_the_template(locale: str) -> None:
    catalog = _read(_po(locale), locale)
    assert _ids(catalog) == _ids(_read(POT)), "run `make messages`"


@pytest.mark.parametrize("locale", LANGUAGES)
def test_translations_keep_the_placeholders(locale: str) -> None:
    catalog = _read(_po(locale), locale)
    problems = [(message.id, [str(error) for error in errors])
                for message, errors in catalog.check() if errors]
    assert problems == []


def _plural_header(locale: str) -> str:
    text = _po(locale).read_text(encoding="utf-8")
    match = re.search(r'^"Plural-Forms: (.*?)\\n"$', text, re.MULTILINE)
    assert match, f"no Plural-Forms header in {locale}"
    return match.group(1)


@pytest.mark.parametrize("locale", LANGUAGES)
def test_plural_forms_header_agrees_with_cldr(locale: str) -> None:
    """pybabel init writes a two-form header for Northern Sami (babel issue
    #495); CLDR has three (one, two, other). Compare by evaluating both."""
    ours = _plural_header(locale)
    cldr = to_gettext(Locale.parse(locale).plural_form)

    def parts(header: str) -> tuple[int, str]:
        nplurals = int(re.search(r"nplurals=(\d+)", header).group(1))  # type: ignore[union-attr]
        expression = re.search(r"plural=(.*?);?\s*$", header).group(1)  # type: ignore[union-attr]
        return nplurals, expression

    our_count, our_expression = parts(ours)
    cldr_count, cldr_expression = parts(cldr)
    assert our_count == cldr_count
    our_rule, cldr_rule = gettext.c2py(our_expression), gettext.c2py(cldr_expression)
    assert [our_rule(n) for n in range(1000)] == [cldr_rule(n) for n in range(1000)]


def test_sami_header_has_three_forms() -> None:
    assert _plural_header("se") == "nplurals=3; plural=(n == 1 ? 0 : n == 2 ? 1 : 2);"


def test_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    """The same extraction as `make messages`, into a temporary file."""
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", f"--mapping-file={LOCALES / 'babel.cfg'}",
        "--no-location", "--sort-output", "--project=Tanntid",
        f"--output-file={fresh}", str(ROOT),
    ])
    extracted, committed = _ids(_read(fresh)), _ids(_read(POT))
    assert extracted - committed == set(), "new messages: run `make messages`"
    assert committed - extracted == set(), "stale messages: run `make messages`"
