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


def _task_item(page: str, task_id: int) -> str:
    start = page.index(f'id="call-task-{task_id}"')
    return page[start:page.index("</li>", start)]


async def test_a_childs_call_task_shows_whom_the_rules_allow_to_call(app, world, staff):
    """Under 12 the guardians who may act for the child today; 12 to 15 those
    guardians and the young person; from 16 only the young person (each
    birthday is today)."""
    from booking.models import Patient
    from tests.web.previsit.world import GUARDIAN_MOBILE

    own = {"12": "+4741000012", "15": "+4741000015", "16": "+4741000016"}
    tasks: dict[str, int] = {}
    async with app.state.db.write() as session:
        for age, number in own.items():
            child = await session.get(Patient, world.children[age].id)
            assert child is not None
            child.mobile = number
        for age in ("11", "12", "15", "16"):
            appointment = await session.get(Appointment, world.appointments[age])
            assert appointment is not None
            task = await call_tasks.create(session, ACTOR, appointment, utcnow())
            assert task is not None
            tasks[age] = task.id
    page = (await (await staff("reception-grunerlokka")).get(
        staff_url(world.clinic_slug))).text
    guardian_tel = f'href="tel:{GUARDIAN_MOBILE}"'
    under_12 = _task_item(page, tasks["11"])
    assert guardian_tel in under_12 and "Ingrid Besøksen" in under_12
    assert 'data-role="self"' not in under_12  # the child's own record is not whom to call
    for age in ("12", "15"):
        item = _task_item(page, tasks[age])
        assert guardian_tel in item and 'data-role="guardian"' in item, age
        assert f'href="tel:{own[age]}"' in item and 'data-role="self"' in item, age
    of_age = _task_item(page, tasks["16"])
    assert f'href="tel:{own["16"]}"' in of_age
    assert guardian_tel not in of_age and 'data-role="guardian"' not in of_age
    # every person whose number was shown is in the audit log
    listed = {e.subject_patient_id for e in await audit_rows(app.state.db,
                                                             call_tasks.LIST_ACTION)}
    assert listed == {world.guardian.id, *(world.children[a].id for a in tasks)}


async def test_who_to_call_for_a_child_nobody_may_act_for():
    """A child under 12 whose guardians do not live at the child's address
    (no one may act today): the child's own record, so the task names someone."""
    from datetime import date

    from booking.call_tasks import CalleeRole, who_to_call
    from booking.models import Patient

    today = date(2026, 6, 1)
    child = Patient(id=1, given_name="Emma", family_name="B", birth_date=date(2018, 1, 1),
                    address_key="a", confidential_address="none", mobile=None)
    away = Patient(id=2, given_name="Ola", family_name="B", birth_date=date(1980, 1, 1),
                   address_key="b", confidential_address="none", mobile="+4790000002")
    home = Patient(id=3, given_name="Kari", family_name="B", birth_date=date(1980, 1, 1),
                   address_key="a", confidential_address="none", mobile="+4790000003")
    assert [(c.patient_id, c.role) for c in who_to_call(child, [away], today)] == [
        (1, CalleeRole.SELF)]
    # one guardian at the child's address: both guardians may act (Helsenorge's rule)
    assert [(c.patient_id, c.role, c.phone) for c in who_to_call(child, [away, home], today)] \
        == [(2, CalleeRole.GUARDIAN, "+4790000002"), (3, CalleeRole.GUARDIAN, "+4790000003")]
