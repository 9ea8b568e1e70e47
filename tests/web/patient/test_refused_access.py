"""Refused ``?for=`` requests cannot fill another patient's access log: each
is in the audit log, the asker is slowed down past a limit (429 with
``Retry-After``), and the patient's page shows one line with a count."""

from __future__ import annotations

from tests.pages import html
from tests.web.patient.access_log import EN, lines
from tests.web.patient.world import World, audit_entries
from web.ratelimits import REFUSED_ACCESS


async def test_repeated_refusals_are_throttled_audited_and_shown_once(
        app, world: World, logged_in) -> None:
    assert REFUSED_ACCESS.startswith("10/minute")
    guardian = await logged_in(world.guardian)
    statuses = [(await guardian.get(f"/timer?for={world.child16.id}")).status_code
                for _ in range(12)]
    assert statuses == [404] * 10 + [429] * 2
    limited = await guardian.get(f"/timer?for={world.child16.id}", headers=EN)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    # Another patient's data is counted apart.
    assert (await guardian.get(f"/timer?for={world.stranger_child.id}")).status_code == 404

    refused = await audit_entries(app, action="access.refused", subject=world.child16.id)
    assert len(refused) == 13  # the security record is complete
    sara = await logged_in(world.child16)
    assert lines(html(await sara.get("/innsyn", headers=EN))) == [
        ("Guardian (Ingrid)", "Tried 13 times to see the data, but was refused",
         "As a guardian")]
