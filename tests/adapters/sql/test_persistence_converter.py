"""The persistence converter: persona data as JSON, events under their frozen tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given

from mynth_adapters.converters import (
    EVENT_TAGS,
    event_from_record,
    event_record,
    persistence_converter,
)
from mynth_core.ids import PersonaId, VersionId
from mynth_core.personas.events import PersonaCreated, PersonaVersionCreated
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.model import VersionSource
from mynth_core.testing import persona_data
from strategies import persona_data as persona_data_strategy

CONVERTER = persistence_converter()
T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)

# Stored rows carry these strings forever: changing one needs a data migration.
FROZEN_TAGS = {
    "persona.created",
    "persona.version_created",
    "persona.reverted",
    "persona.cloned",
    "persona.deleted",
    "persona.image_generated",
    "persona.image_failed",
    "persona.published",
    "persona.publish_failed",
    "persona.unpublished",
}


def test_the_stored_event_tags_never_change() -> None:
    assert set(EVENT_TAGS.values()) == FROZEN_TAGS
    assert len(EVENT_TAGS) == len(FROZEN_TAGS)


def test_every_event_class_is_stored_under_its_tag_not_its_class_name() -> None:
    for cls, tag in EVENT_TAGS.items():
        assert tag != cls.__name__
        assert tag.startswith("persona.")


def test_an_event_is_stored_as_its_tag_and_a_json_payload_without_envelope() -> None:
    event = PersonaVersionCreated(
        persona_id=PersonaId("prs_1"),
        at=T0,
        version_id=VersionId("prv_2"),
        version_number=2,
        source=VersionSource.ENHANCE,
    )

    tag, data = event_record(CONVERTER, event)

    assert tag == "persona.version_created"
    assert data == {"version_id": "prv_2", "version_number": 2, "source": "enhance"}
    assert type(data["source"]) is str
    rebuilt = event_from_record(
        CONVERTER, tag, json.loads(json.dumps(data)), persona_id=event.persona_id, at=T0
    )
    assert rebuilt == event


def test_persona_data_is_stored_with_its_extensions_as_an_object() -> None:
    data = PersonaData.parse(
        {"name": "A", "age": "1", "gender": "x", "appearance": "a", "personality": "p"}
        | {"background": "b", "summary": "s"},
        {"zeta": "last", "alpha": "first"},
    )

    stored = CONVERTER.unstructure(data)

    assert stored["extensions"] == {"alpha": "first", "zeta": "last"}
    assert "extension_items" not in stored
    assert stored["occupation"] is None


@given(persona_data_strategy())
def test_persona_data_survives_a_trip_through_json(data: PersonaData) -> None:
    stored = json.loads(json.dumps(CONVERTER.unstructure(data)))

    assert CONVERTER.structure(stored, PersonaData) == data


def test_an_event_payload_with_an_iso_time_still_structures() -> None:
    created = PersonaCreated(
        persona_id=PersonaId("prs_1"), at=T0, version_id=VersionId("prv_1"), source="manual"
    )
    payload = {"type": "persona.created", **CONVERTER.unstructure(created)}

    assert CONVERTER.structure(payload, type(created)) == created
    assert persona_data() == CONVERTER.structure(CONVERTER.unstructure(persona_data()), PersonaData)
