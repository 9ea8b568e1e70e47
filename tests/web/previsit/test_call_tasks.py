"""Call tasks (booking.call_tasks) on the clinic's call-back list: listed for
the clinic's staff with the appointment and the number, audited; marked done,
audited; another clinic's staff get a 404 and an audit entry."""

from __future__ import annotations

from sqlalchemy import select

from booking import call_tasks
from booking.call_tasks import CallTask
from booking.models import Appointment
from core.db import utcnow
from notifications.escalation import ACTOR
from tests.web.previsit.world import VisitWorld, audit_rows


def staff_url(slug: str) -> str:
    return f"/staff/klinikk/{slug}/ring-tilbake"


async def make_task(app, world: VisitWorld) -> CallTask:
    async with app.state.db.write() as session:
        appointment = await session.get(Appointment, world.appointments["adult"])
        assert appointment is not None and appointment.clinic_id == world.clinic_id
        task = await call_tasks.create(session, ACTOR, appointment, utcnow())
        assert task is not None
        assert await call_tasks.create(session, ACTOR, appointment, utcnow()) is None  # once
    return task


async def tasks_of(app) -> list[CallTask]:
    async with app.state.db.read() as session:
        return list((await session.execute(select(CallTask).order_by(CallTask.id))).scalars())


async def test_reception_sees_a_call_task_and_marks_it_done(app, world, staff):
    task = await make_task(app, world)
    reception = await staff("reception-grunerlokka")
    page = (await reception.get(staff_url(world.clinic_slug))).text
    assert f'id="call-task-{task.id}"' in page
    assert "Unconfirmed appointments to call about" in page
    assert 'href="tel:' in page
    [listed] = await audit_rows(app.state.db, call_tasks.LIST_ACTION)
    assert listed.subject_patient_id == world.adult.id
    response = await reception.post(f"{staff_url(world.clinic_slug)}/oppgave/{task.id}")
    assert response.status_code == 303
    [done] = await tasks_of(app)
    assert done.status == "done" and done.done_by_name == "Hanne Resepsjon"
    [entry] = await audit_rows(app.state.db, call_tasks.DONE_ACTION)
    assert entry.detail == {"call_task_id": task.id}
    page = (await reception.get(staff_url(world.clinic_slug))).text
    assert 'id="call-tasks-waiting"' not in page and "Done by Hanne Resepsjon" in page


async def test_another_clinics_staff_cannot_mark_it(app, world, staff):
    task = await make_task(app, world)
    admin = await staff("clinic-admin-majorstuen")
    response = await admin.post(f"{staff_url(world.other_clinic_slug)}/oppgave/{task.id}")
    assert response.status_code == 404
    assert [t.status for t in await tasks_of(app)] == ["waiting"]
    [refused] = await audit_rows(app.state.db, call_tasks.REFUSED_ACTION)
    assert refused.subject_patient_id == world.adult.id
    for bad in ("x", "-1"):
        assert (await admin.post(f"{staff_url(world.other_clinic_slug)}/oppgave/{bad}")
                ).status_code == 404
    assert (await admin.get(staff_url(world.clinic_slug))).status_code == 404
