"""A block as the week's forms send it, read strictly: anything that is not
a day, a clock time, a number or a date is refused with ``bad_input``."""

from __future__ import annotations

from datetime import date, time
from typing import Final

from starlette.datastructures import FormData

from booking.schedule_changes import Block, Change, ChangeRefused

FIELD_LIMIT: Final = 200


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:FIELD_LIMIT] if isinstance(value, str) else ""


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 7 else None


def _clock(text: str) -> time | None:
    try:
        value = time.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(second=0, microsecond=0)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def values(form: FormData) -> dict[str, object]:
    """What the form said, to show it again after a refusal."""
    return {"weekday": field(form, "weekday"), "starts_at": field(form, "starts_at"),
            "ends_at": field(form, "ends_at"), "slot_minutes": field(form, "slot_minutes"),
            "valid_from": field(form, "valid_from"), "valid_to": field(form, "valid_to"),
            "released": form.get("released") == "1",
            "type_ids": [v for v in form.getlist("type") if isinstance(v, str)]}


def block(form: FormData) -> Block:
    weekday, minutes = _int(field(form, "weekday")), _int(field(form, "slot_minutes"))
    starts_at, ends_at = _clock(field(form, "starts_at")), _clock(field(form, "ends_at"))
    valid_from = _date(field(form, "valid_from"))
    valid_to_text = field(form, "valid_to")
    valid_to = _date(valid_to_text) if valid_to_text else None
    type_ids = [_int(v) for v in form.getlist("type") if isinstance(v, str)]
    if (weekday is None or minutes is None or starts_at is None or ends_at is None
            or valid_from is None or (valid_to_text and valid_to is None)
            or any(t is None for t in type_ids) or len(type_ids) > 50):
        raise ChangeRefused("bad_input")
    return Block(weekday, starts_at, ends_at, minutes, valid_from, valid_to,
                 form.get("released") == "1", tuple(sorted({t for t in type_ids if t})))


def change(form: FormData) -> Change:
    """The change a form asks for: ``kind`` add, edit or remove."""
    kind = field(form, "kind")
    chair_id = _int(field(form, "chair"))
    template_id = _int(field(form, "block"))
    if chair_id is None or kind not in ("add", "edit", "remove"):
        raise ChangeRefused("bad_input")
    if kind == "add":
        return Change("add", chair_id, None, block(form))
    if template_id is None:
        raise ChangeRefused("unknown_block")
    if kind == "remove":
        return Change("remove", chair_id, template_id)
    return Change("edit", chair_id, template_id, block(form))


def hidden(change: Change) -> dict[str, object]:
    """The change as hidden fields of the save form."""
    fields: dict[str, object] = {"kind": change.kind, "chair": change.chair_id,
                                 "block": change.template_id or ""}
    if change.block is not None:
        b = change.block
        fields.update(weekday=b.weekday, starts_at=b.starts_at.strftime("%H:%M"),
                      ends_at=b.ends_at.strftime("%H:%M"), slot_minutes=b.slot_minutes,
                      valid_from=b.valid_from.isoformat(),
                      valid_to=b.valid_to.isoformat() if b.valid_to else "",
                      released="1" if b.released else "0")
    return fields
