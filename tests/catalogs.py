"""The compiled message catalogs the pages and text messages are read from."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"


def compile_catalogs(locales: Path = LOCALES) -> list[Path]:
    """What ``pybabel compile -d locales`` does, for each catalog whose .mo is
    missing or older than its .po. Fuzzy entries are left out, as there.
    Safe to run from several processes at once (each writes a file of its
    own and renames it into place)."""
    compiled = []
    for po in sorted(locales.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fp:
            catalog = read_po(fp, locale=po.parent.parent.name)
        partial = mo.with_suffix(f".mo.{os.getpid()}")
        with partial.open("wb") as fp:
            write_mo(fp, catalog, use_fuzzy=False)
        partial.replace(mo)
        compiled.append(mo)
    return compiled
