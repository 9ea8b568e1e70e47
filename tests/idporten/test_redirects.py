"""`next` after login: local paths only. Every payload in the corpus is refused
(the login routes' use of it: ``tests/web/auth/test_redirects.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idporten.redirects import safe_next

CORPUS = Path(__file__).with_name("open_redirects.txt")
_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\0": "\0"}


def payloads() -> list[str]:
    found = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for escape, char in _ESCAPES.items():
            line = line.replace(escape, char)
        found.append(line)
    return found


@pytest.mark.parametrize("payload", payloads())
def test_open_redirect_payload_is_refused(payload):
    assert safe_next(payload, default="/home") == "/home"


@pytest.mark.parametrize("path", [
    "/", "/mine-timer", "/mine-timer?vis=alle&side=2", "/klinikker/tannklinikken-voss",
    "/timer/12/endre#velg", "/s%C3%B8k?q=tannlege%20Troms%C3%B8",
])
def test_local_paths_are_kept(path):
    assert safe_next(path) == path


def test_nothing_gives_the_default():
    assert safe_next(None) == "/" and safe_next("") == "/"
    assert safe_next("/" + "a" * 2000) == "/"
