"""The embedded default's real path: specs → Jinja prompts → offline answers → persona data."""

from __future__ import annotations

import json

import pytest

from mynth_adapters.offline import OFFLINE_TEXT_MODEL
from mynth_core.generation.ports import ChatRequest, Completion, TextDelta
from mynth_core.personas.fields import TEXT_FIELDS, PersonaData, PersonaPatch
from mynth_core.personas.prompts import (
    BUILT_IN_PROPERTIES,
    PERSONA_CHANGES_SCHEMA,
    PERSONA_SCHEMA,
    PersonaEnhancePrompt,
    PersonaGenerationPrompt,
    PropertyAction,
    PropertyActionPrompt,
    property_schema,
)
from mynth_core.testing import persona_data

CURRENT = persona_data(occupation="Lighthouse keeper").apply(
    PersonaPatch.of(extensions={"fears": "Fog that does not lift.", "odd": "{{ 7*7 }}"})
)
PROMPTS = [
    "a retired pilot who runs a seaside bakery and loves crosswords",
    "She is a 29-year-old court translator with a secret gambling debt.",
    "Create a character: an old man named Ivo Brandt who guards a border no one crosses",
    ("An exiled astronomer mapping the stars of a drowned city, " * 50)[:2048],
]


async def streamed(model, request: ChatRequest) -> Completion:
    items = [item async for item in model.stream(request)]
    *deltas, completion = items
    assert isinstance(completion, Completion)
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == completion.text
    assert completion.model == OFFLINE_TEXT_MODEL
    return completion


@pytest.mark.parametrize("prompt", PROMPTS)
async def test_a_generated_persona_is_valid_persona_data(model, renderer, conforms, prompt):
    messages = renderer.render(PersonaGenerationPrompt(prompt))
    request = ChatRequest(messages=messages, models=("m",), schema=PERSONA_SCHEMA)

    output = json.loads((await streamed(model, request)).text)

    assert conforms(output, PERSONA_SCHEMA.schema) == []
    extensions = {item["key"]: item["value"] for item in output["extensions"]}
    data = PersonaData.parse({f: output[f] for f in TEXT_FIELDS}, extensions)
    assert data.name == output["name"]


@pytest.mark.parametrize(
    "instruction", ["make her a retired pilot", "{{ 7*7 }}", "x" * 2048, "more mysterious"]
)
async def test_an_enhance_changes_the_persona_but_not_who_it_is(
    model, renderer, conforms, instruction
):
    spec = PersonaEnhancePrompt(CURRENT, "The Keeper", instruction)
    request = ChatRequest(
        messages=renderer.render(spec), models=("m",), schema=PERSONA_CHANGES_SCHEMA
    )

    output = json.loads((await streamed(model, request)).text)

    assert conforms(output, PERSONA_CHANGES_SCHEMA.schema) == []
    fields = {f: output[f] for f in TEXT_FIELDS if output[f] is not None}
    changed = CURRENT.apply(PersonaPatch.of(fields))
    assert changed != CURRENT
    assert (changed.name, changed.age, changed.gender) == (CURRENT.name, CURRENT.age, "female")
    assert changed.extensions == CURRENT.extensions


@pytest.mark.parametrize("action", list(PropertyAction))
@pytest.mark.parametrize("name", [*BUILT_IN_PROPERTIES, "fears", "odd", "favorite_books"])
async def test_a_property_action_changes_exactly_that_property(
    model, renderer, conforms, action, name
):
    spec = PropertyActionPrompt(CURRENT, name, action)
    schema = property_schema(name)
    request = ChatRequest(messages=renderer.render(spec), models=("m",), schema=schema)

    output = json.loads((await streamed(model, request)).text)

    assert conforms(output, schema.schema) == []
    if name in BUILT_IN_PROPERTIES:
        changed = CURRENT.apply(PersonaPatch.of({name: output[name]}))
        assert getattr(changed, name) != getattr(CURRENT, name)
    else:
        changed = CURRENT.apply(PersonaPatch.of(extensions={name: output[name]}))
        assert changed.extensions.get(name) != CURRENT.extensions.get(name)
    assert changed.name == CURRENT.name
