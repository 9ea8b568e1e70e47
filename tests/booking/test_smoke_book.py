from datetime import timedelta

from booking import service
from booking.audit import Actor
from tests import factories as f


async def test_book_then_cancel_frees_slot(db):
    async with db.write() as s:
        clinic = await f.clinic(s)
        chair = await f.chair(s, clinic)
        kind = await f.appointment_type(s, clinic.county_id)
        tpl = await f.template(s, chair, [kind])
        patient = await f.patient(s)
        slot = await f.slot(s, chair, f.at(2030, 3, 4, 9), tpl)
    now = f.at(2030, 3, 1)
    out = await service.book(db, Actor.patient(patient.id), patient_id=patient.id,
                             slot_id=slot.id, appointment_type_id=kind.id,
                             idempotency_key="k1", now=now)
    assert out.appointment.id
    again = await service.book(db, Actor.patient(patient.id), patient_id=patient.id,
                               slot_id=slot.id, appointment_type_id=kind.id,
                               idempotency_key="k1", now=now)
    assert again.replayed and again.appointment.id == out.appointment.id
    res = await service.cancel(db, Actor.patient(patient.id),
                               appointment_id=out.appointment.id, now=now + timedelta(hours=1))
    assert res.appointment.status == "cancelled"
