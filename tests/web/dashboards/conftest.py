"""The support console's app, staff login and two-county world
(tests.web.support), for the county dashboards."""

from tests.web.support.conftest import app, staff, world

__all__ = ["app", "staff", "world"]
