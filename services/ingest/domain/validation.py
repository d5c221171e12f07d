"""Turning an arbitrary JSON value into a validated `EventIn`, or the first reason it is not one."""

from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.ingest.domain.rejections import Code, Rejection
from services.ingest.schemas import SERVER_OWNED_FIELDS, EventIn


def dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def rejection_from(error: ValidationError) -> Rejection:
    first = error.errors(include_url=False, include_input=False)[0]
    loc = tuple(first["loc"])
    path = dotted(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        return Rejection(Code.UNKNOWN_FIELD, f"{path} is not a field of a touchpoint event.", path)
    if loc[:1] == ("type",):
        if kind == "missing":
            return Rejection(Code.INVALID_TYPE, "type is required.", path)
        return Rejection(
            Code.INVALID_TYPE,
            "type must be snake_case (a-z, 0-9, _), start with a letter, at most 64 characters.",
            path,
        )
    if kind == "missing":
        return Rejection(Code.INVALID_FIELD, f"{path} is required.", path)
    return Rejection(Code.INVALID_FIELD, f"{path}: {first['msg']}.", path)


_EVENT_LIST = TypeAdapter(list[EventIn])


def precheck(raw: Any) -> Rejection | None:
    """What the schema cannot say: an event is an object and carries no server-owned field."""
    if not isinstance(raw, dict):
        return Rejection(Code.INVALID_FIELD, "An event must be a JSON object.")
    if raw.keys().isdisjoint(SERVER_OWNED_FIELDS):
        return None
    for name in sorted(SERVER_OWNED_FIELDS):
        if name in raw:
            return Rejection(Code.SERVER_OWNED_FIELD, f"{name} is set by the server and must not be sent.", name)
    return None


def validate_event(raw: Any) -> EventIn | Rejection:
    refusal = precheck(raw)
    if refusal is not None:
        return refusal
    try:
        return EventIn.model_validate(raw)
    except ValidationError as error:
        return rejection_from(error)


def validate_events(raws: list[Any]) -> list[EventIn | Rejection]:
    """Validate many events: all in one pass while they are all valid (the usual case),
    one by one when some are not, so each refusal names its own field."""
    if len(raws) > 1 and all(precheck(raw) is None for raw in raws):
        try:
            return list(_EVENT_LIST.validate_python(raws))
        except ValidationError:
            pass
    return [validate_event(raw) for raw in raws]
