"""cattrs converters, one per boundary; the persistence one owns the stored event tags."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import JsonConverter, make_converter
from cattrs.strategies import configure_tagged_union

from mynth_core.ids import PersonaId
from mynth_core.personas.events import EVENT_TYPES, PersonaEvent
from mynth_core.personas.fields import PersonaData

# The tag each event is stored under: the core's stable names, never a class name.
EVENT_TAGS: Final[Mapping[type[PersonaEvent], str]] = EVENT_TYPES
TAG_KEY: Final = "type"
_ENVELOPE: Final = ("persona_id", "at")  # stored in their own columns, not in `data`


def persistence_converter() -> JsonConverter:
    """The converter for JSON columns: persona data and tagged event payloads."""
    conv = make_converter()
    conv.register_unstructure_hook(str, str)  # a StrEnum member in a `str` field: plain text
    conv.register_structure_hook(datetime, _structure_datetime)
    _configure_persona_data(conv)
    configure_tagged_union(
        PersonaEvent, conv, tag_name=TAG_KEY, tag_generator=EVENT_TAGS.__getitem__
    )
    return conv


def _structure_datetime(value: datetime | str, _: type[datetime]) -> datetime:
    # Columns already give datetimes; JSON payloads carry ISO 8601 text.
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _configure_persona_data(conv: JsonConverter) -> None:
    """Store `extension_items` (sorted pairs in the core) as a JSON object `extensions`."""
    fields = make_dict_unstructure_fn(PersonaData, conv, extension_items=override(omit=True))
    build = make_dict_structure_fn(PersonaData, conv, extension_items=override(omit=True))

    def unstructure(data: PersonaData) -> dict[str, Any]:
        return {**fields(data), "extensions": dict(data.extension_items)}

    def structure(value: Mapping[str, Any], _: type[PersonaData]) -> PersonaData:
        extensions: Mapping[str, str] = value.get("extensions") or {}
        return attrs.evolve(
            build(value, PersonaData), extension_items=tuple(sorted(extensions.items()))
        )

    conv.register_unstructure_hook(PersonaData, unstructure)
    conv.register_structure_hook(PersonaData, structure)


def event_record(conv: JsonConverter, event: PersonaEvent) -> tuple[str, dict[str, Any]]:
    """Split `event` into its stored tag and its type-specific JSON payload."""
    payload: dict[str, Any] = conv.unstructure(event, unstructure_as=PersonaEvent)
    tag = payload.pop(TAG_KEY)
    for key in _ENVELOPE:
        payload.pop(key)
    return tag, payload


def event_from_record(
    conv: JsonConverter,
    tag: str,
    data: Mapping[str, Any],
    *,
    persona_id: PersonaId,
    at: datetime,
) -> PersonaEvent:
    """Rebuild an event from its stored tag, payload and envelope columns."""
    payload = {**data, TAG_KEY: tag, "persona_id": persona_id, "at": at}
    event: PersonaEvent = conv.structure(payload, PersonaEvent)  # type: ignore[arg-type]
    return event
