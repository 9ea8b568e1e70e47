"""The routes of the console's oversight pages: bulk resend (support and
county administrators), the audit viewer and the access review (county
administrators)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.views import audit_viewer, bulk_resend


def routes() -> list[BaseRoute]:
    return [*bulk_resend.routes(), *audit_viewer.routes()]
