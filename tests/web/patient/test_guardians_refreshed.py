"""A guardian cancelling for a child online: the child's guardians are asked
for afresh first (so one who never logged in is told too); for an adult
acting for themselves, nobody is asked."""

from __future__ import annotations

from booking.relations import LocalRelations
from tests.web.patient.world import World


class AskedRelations(LocalRelations):
    """The local tables, remembering whose guardians were asked for."""

    def __init__(self, db) -> None:
        super().__init__(db)
        self.asked: list[int] = []

    async def refresh_guardians(self, child_patient_id: int) -> None:
        self.asked.append(child_patient_id)


async def test_cancelling_for_a_child_asks_for_the_childs_guardians(app, world: World,
                                                                    logged_in) -> None:
    relations = AskedRelations(app.state.db)
    app.state.relations = relations
    try:
        client = await logged_in(world.guardian)
        appointment_id = world.appointments["child11"]
        done = await client.post(f"/timer/{appointment_id}/avbestill", data={})
        assert done.status_code == 303
    finally:
        del app.state.relations
    assert relations.asked == [world.child11.id]
