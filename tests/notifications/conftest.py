"""Fixtures of the notification tests. The SMS texts come from the compiled
catalogs (notifications.templates): compile any that are missing or older
than their .po first, as the web tests do, so these tests never read stale
words."""

from __future__ import annotations

import pytest

from core.i18n import reload_catalogs
from tests.catalogs import compile_catalogs
from tests.notifications.helpers import EARLY, Clock, MemorySms


@pytest.fixture(scope="session", autouse=True)
def compiled_sms_catalogs() -> None:
    compile_catalogs()
    reload_catalogs()


@pytest.fixture
def sms() -> MemorySms:
    """The in-memory SMS channel (a module may define its own)."""
    return MemorySms()


@pytest.fixture
def clock() -> Clock:
    """A settable clock at the test booking day's early morning."""
    return Clock(EARLY)
