"""The SMS texts come from the compiled catalogs (notifications.templates):
compile any that are missing or older than their .po first, as the web tests
do, so these tests never read stale words."""

from __future__ import annotations

import pytest

from notifications.templates import reload_catalogs
from tests.web.conftest import compile_catalogs


@pytest.fixture(scope="session", autouse=True)
def compiled_sms_catalogs() -> None:
    compile_catalogs()
    reload_catalogs()
