"""The persona prompts say everything PRODUCT.md §4.5, §4.7 and §4.8 require, in the right part."""

from __future__ import annotations

import json

import pytest

from mynth_adapters.prompts import PERSONA_BLOCK_END, PERSONA_BLOCK_START, JinjaPromptRenderer
from mynth_core.generation.ports import Role
from mynth_core.personas.fields import PersonaPatch
from mynth_core.personas.prompts import (
    PERSONA_CHANGES_SCHEMA,
    PERSONA_SCHEMA,
    PersonaEnhancePrompt,
    PersonaGenerationPrompt,
    PropertyAction,
    PropertyActionPrompt,
    persona_json,
)
from mynth_core.testing import persona_data

DATA = persona_data(occupation="Lighthouse keeper").apply(
    PersonaPatch.of(extensions={"fears": "Fog that does not lift."})
)


@pytest.fixture(scope="module")
def renderer() -> JinjaPromptRenderer:
    return JinjaPromptRenderer()


def parts(renderer: JinjaPromptRenderer, spec) -> tuple[str, str]:
    system, user = renderer.render(spec)
    assert (system.role, user.role) == (Role.SYSTEM, Role.USER)
    return system.content, user.content


def block(text: str) -> dict[str, object]:
    """The JSON between the data-block tags, each alone on its line."""
    lines = text.splitlines()
    inside = lines[lines.index(PERSONA_BLOCK_START) + 1 : lines.index(PERSONA_BLOCK_END)]
    return json.loads("\n".join(inside))


def contract_fields(schema) -> list[str]:
    return list(schema.schema["properties"])


# --- §4.5 generation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "element",
    [
        "imaginative character architect",
        "novelist techniques",
        "cultures",
        "settings",
        "inner contradictions",
        "backstory",
        "distinctive features",
        "speech patterns",
        "a secret",
        "clothing",
        "hair",
        "makeup",
        "distinctive marks",
        "not overused",
        "faithfully",
        "mature creative direction",
        "minors are never sexualised",
        '"male", "female" or "other"',
        "prefer a number",
        '"unknown"',
        "visual description only",
        "2 to 5 entries only when the request implies",
        "snake_case",
        '{"key": ..., "value": ...}',
        "no nested lists",
        "light markdown",
    ],
)
def test_the_generation_system_part_has_each_required_element(renderer, element):
    system, _ = parts(renderer, PersonaGenerationPrompt("a pilot"))

    assert element.lower() in system.lower()


def test_the_generation_output_contract_names_every_schema_field(renderer):
    system, _ = parts(renderer, PersonaGenerationPrompt("a pilot"))
    contract = system[system.index("Output contract") :]

    for field in contract_fields(PERSONA_SCHEMA):
        assert f'- "{field}":' in contract


def test_the_generation_user_part_is_the_prompt_alone(renderer):
    _, user = parts(renderer, PersonaGenerationPrompt("A tired knight, 40, who fears horses"))

    assert user == "A tired knight, 40, who fears horses"


# --- §4.7 enhance ------------------------------------------------------------------------------


def test_the_enhance_system_part_embeds_the_persona_as_a_delimited_json_block(renderer):
    system, _ = parts(renderer, PersonaEnhancePrompt(DATA, "The Keeper", "make her older"))

    assert block(system) == json.loads(persona_json(DATA))
    assert '"The Keeper"' in system


@pytest.mark.parametrize(
    "rule",
    [
        "expert character editor",
        "Use extensions freely",
        "Keep the whole persona consistent",
        "ripples into the related fields",
        "Respect the scope of the request",
        "broad request gets a broad edit, a narrow request a narrow edit",
        "Changed text must really differ",
        'Change "name", "age" or "gender" only when the instruction explicitly asks',
        "Do not move content between fields",
        "do not rewrite fields the request does not touch",
        "minors are never sexualised",
    ],
)
def test_the_enhance_system_part_lists_each_rule(renderer, rule):
    system, _ = parts(renderer, PersonaEnhancePrompt(DATA, "T", "make her older"))

    assert rule.lower() in system.lower()


def test_the_enhance_output_contract_asks_for_only_changed_fields(renderer):
    system, _ = parts(renderer, PersonaEnhancePrompt(DATA, "T", "make her older"))
    contract = system[system.index("Output contract") :]

    assert "only changed fields" in contract
    assert "every field you did not change is null" in contract
    assert "only if the identity or theme of the persona changed" in contract
    assert "what you changed, plus one suggestion" in contract
    assert "1 to 2 sentences" in contract
    assert '"age" is text' in contract
    assert "snake_case" in contract
    for field in contract_fields(PERSONA_CHANGES_SCHEMA):
        assert f'"{field}"' in contract


def test_the_enhance_user_part_is_the_instruction_alone(renderer):
    _, user = parts(renderer, PersonaEnhancePrompt(DATA, "T", "make her a retired pilot"))

    assert user == "make her a retired pilot"


# --- §4.8 property actions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "intent"),
    [
        (PropertyAction.EXPAND, ["concrete, sensory detail", "keeping its original intent"]),
        (PropertyAction.REWRITE, ["fresh, better wording", "Do not make it longer unless"]),
        (PropertyAction.CREATE, ["from scratch"]),
    ],
)
def test_the_property_system_part_states_the_action_intent(renderer, action, intent):
    system, _ = parts(renderer, PropertyActionPrompt(DATA, "fears", action))

    assert "precise single-property editor" in system
    assert f"Action: {action.value}\n" in system
    assert all(phrase in system for phrase in intent)
    assert "consistent with the rest of the persona" in system
    other_intents = {"expand", "rewrite", "create"} - {action.value}
    assert not any(f"Intent: {other}." in system for other in other_intents)


def test_the_property_output_is_one_string_member_named_after_the_property(renderer):
    system, _ = parts(renderer, PropertyActionPrompt(DATA, "daily_routine", PropertyAction.CREATE))

    assert 'exactly one string member named "daily_routine"' in system
    assert '{"daily_routine": "..."}' in system
    assert "daily routine" in system  # the property in words


def test_the_property_user_part_is_the_persona_json(renderer):
    _, user = parts(renderer, PropertyActionPrompt(DATA, "appearance", PropertyAction.EXPAND))

    assert user.startswith(PERSONA_BLOCK_START)
    assert user.endswith(PERSONA_BLOCK_END)
    assert block(user) == json.loads(persona_json(DATA))


def test_the_property_prompt_says_where_the_current_value_lives(renderer):
    built_in, _ = parts(renderer, PropertyActionPrompt(DATA, "occupation", PropertyAction.REWRITE))
    custom, _ = parts(renderer, PropertyActionPrompt(DATA, "fears", PropertyAction.EXPAND))

    assert 'the current occupation is the "occupation" field' in built_in
    assert 'the current fears is "extensions"."fears"' in custom


def test_creating_an_existing_property_asks_for_a_replacement(renderer):
    system, _ = parts(renderer, PropertyActionPrompt(DATA, "fears", PropertyAction.CREATE))
    fresh, _ = parts(renderer, PropertyActionPrompt(DATA, "hobbies", PropertyAction.CREATE))

    assert "already has a fears" in system
    assert "already has" not in fresh


def test_an_appearance_action_is_reminded_to_stay_visual(renderer):
    system, _ = parts(renderer, PropertyActionPrompt(DATA, "appearance", PropertyAction.EXPAND))
    other, _ = parts(renderer, PropertyActionPrompt(DATA, "background", PropertyAction.EXPAND))

    assert "purely visual" in system
    assert "purely visual" not in other
