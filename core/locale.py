"""The time zone every date is shown in, and the languages the service speaks."""

from __future__ import annotations

from typing import Final
from zoneinfo import ZoneInfo

#: Dates and times are stored in UTC and computed and shown in Oslo time.
OSLO: Final = ZoneInfo("Europe/Oslo")

#: Bokmål (the default), Nynorsk, English and Northern Sami.
LANGUAGES: Final = ("nb", "nn", "en", "se")
DEFAULT_LANGUAGE: Final = "nb"
