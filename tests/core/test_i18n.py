"""The one catalog loader: a language alone, or with its fallback chain,
each loaded once, neither changed by the other."""

from __future__ import annotations

import pytest

from core import i18n
from core.locale import LANGUAGES
from tests.catalogs import compile_catalogs


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    compile_catalogs()
    i18n.reload_catalogs()


def test_each_language_has_a_compiled_catalog_loaded_once() -> None:
    for language in LANGUAGES:
        assert i18n.catalog(language) is i18n.catalog(language)
        assert i18n.translations(language) is i18n.translations(language)
    assert i18n.catalog("nb").gettext("Opening hours") != "Opening hours"


def test_nynorsk_and_sami_fall_back_to_bokmal_only_in_translations() -> None:
    for language in ("nn", "se"):
        chained = i18n.translations(language)
        alone = i18n.catalog(language)
        assert chained is not alone
        assert chained._fallback is i18n.translations("nb")  # type: ignore[attr-defined]
        # The shared catalog of the language alone never gets a fallback.
        assert alone._fallback is None  # type: ignore[attr-defined]
    assert i18n.translations("nb")._fallback is None  # type: ignore[attr-defined]
    assert i18n.translations("en")._fallback is None  # type: ignore[attr-defined]


def test_a_missing_catalog_gives_the_msgids(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.reload_catalogs()
    try:
        assert i18n.catalog("nn").gettext("Opening hours") == "Opening hours"
        assert i18n.translations("se").gettext("Opening hours") == "Opening hours"
    finally:
        monkeypatch.undo()
        i18n.reload_catalogs()
