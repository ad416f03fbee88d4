"""OfflineChatModel: deterministic, labelled, schema-shaped answers streamed in small chunks."""

from __future__ import annotations

import json
import re

import pytest

from mynth_adapters.offline import OFFLINE_PROVIDER, OFFLINE_TEXT_MODEL, OfflineChatModel
from mynth_core.errors import ProviderRejectedError
from mynth_core.generation.ports import (
    ChatRequest,
    Completion,
    JsonSchema,
    PromptMessage,
    Role,
    TextDelta,
)
from mynth_core.personas.fields import EXTENSION_KEY, FIELD_LIMITS, NOTE_LIMIT, TITLE_LIMIT
from mynth_core.personas.prompts import (
    PERSONA_CHANGES_SCHEMA,
    PERSONA_SCHEMA,
    PersonaEnhancePrompt,
    PropertyAction,
    PropertyActionPrompt,
    property_schema,
)
from mynth_core.testing import persona_data

LONG_PROMPT = ("A weary lighthouse keeper who loves storms and old maps, " * 40)[:2048]


def ask(prompt: str, schema: JsonSchema | None = PERSONA_SCHEMA) -> ChatRequest:
    messages = (PromptMessage(Role.SYSTEM, "Write a persona."), PromptMessage(Role.USER, prompt))
    return ChatRequest(messages=messages, models=("moonshotai/kimi-k2",), schema=schema)


async def answer(model: OfflineChatModel, request: ChatRequest) -> dict:
    return json.loads((await model.complete(request)).text)


def enhance(renderer, instruction: str, **fields: str) -> ChatRequest:
    spec = PersonaEnhancePrompt(persona_data(**fields), "The Keeper", instruction)
    return ChatRequest(messages=renderer.render(spec), models=("m",), schema=PERSONA_CHANGES_SCHEMA)


def property_request(renderer, name: str, action: PropertyAction, **fields: str) -> ChatRequest:
    spec = PropertyActionPrompt(persona_data(**fields), name, action)
    return ChatRequest(messages=renderer.render(spec), models=("m",), schema=property_schema(name))


# --- labelling and determinism -----------------------------------------------------------------


async def test_answers_are_labelled_as_the_offline_generator(model):
    completion = await model.complete(ask("a pilot"))

    assert OFFLINE_TEXT_MODEL.startswith("offline/")
    assert completion.model == OFFLINE_TEXT_MODEL
    assert completion.provider == OFFLINE_PROVIDER == "offline"
    assert completion.cost_usd is None
    assert completion.finish_reason == "stop"
    assert completion.attempts == 1


async def test_usage_is_a_word_count_of_prompt_and_answer(model):
    completion = await model.complete(ask("a retired pilot"))

    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 6  # "Write a persona." + "a retired pilot"
    assert completion.usage.completion_tokens == len(completion.text.split())


async def test_the_same_request_gives_the_same_answer(model):
    first = await model.complete(ask("a cheerful baker who hides a past"))
    again = await OfflineChatModel().complete(ask("a cheerful baker who hides a past"))

    assert first == again


async def test_a_different_request_gives_a_different_answer(model):
    one = await model.complete(ask("a cheerful baker who hides a past"))
    other = await model.complete(ask("a gloomy baker who hides a past"))

    assert one.text != other.text


# --- persona -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["a pilot", "x", LONG_PROMPT, '{{ 7*7 }} </persona_json> "quotes" \\ ünïcødé 名前', "42"],
)
async def test_a_persona_answer_fits_the_persona_schema_and_the_field_limits(
    model, conforms, prompt
):
    persona = await answer(model, ask(prompt))

    assert conforms(persona, PERSONA_SCHEMA.schema) == []
    texts = {field: persona[field] for field in FIELD_LIMITS if persona[field] is not None}
    assert set(FIELD_LIMITS) - set(texts) <= {"occupation"}
    assert all(text.strip() and len(text) <= FIELD_LIMITS[f] for f, text in texts.items())
    assert 0 < len(persona["title"]) <= TITLE_LIMIT
    assert 0 < len(persona["note_for_user"]) <= NOTE_LIMIT
    assert len(persona["extensions"]) <= 3
    assert all(EXTENSION_KEY.fullmatch(item["key"]) for item in persona["extensions"])
    assert all(item["value"].strip() for item in persona["extensions"])


async def test_a_persona_says_it_is_offline_and_how_to_get_a_real_model(model):
    persona = await answer(model, ask("a pilot"))

    assert "offline generator" in persona["note_for_user"]
    assert "MYNTH_OPENROUTER_API_KEY" in persona["note_for_user"]


@pytest.mark.parametrize(
    ("prompt", "gender"),
    [
        ("a woman who repairs clocks", "female"),
        ("a girl raised by wolves, now grown", "female"),
        ("she runs a night market", "female"),
        ("a female astronaut", "female"),
        ("a man who repairs clocks", "male"),
        ("a boy king, now an old exile", "male"),
        ("he sells maps to nowhere", "male"),
        ("a male nurse on a night shift", "male"),
        ("a sailor with a broken compass and his dog", "male"),
        ("a woman who hates men", "female"),
    ],
)
async def test_the_gender_follows_the_prompt(model, prompt, gender):
    assert (await answer(model, ask(prompt)))["gender"] == gender


async def test_without_a_gendered_word_the_gender_is_still_deterministic(model):
    genders = {(await answer(model, ask("a robot archivist")))["gender"] for _ in range(3)}

    assert len(genders) == 1
    assert genders <= {"male", "female", "other"}


async def test_the_persona_takes_a_name_an_age_and_an_occupation_from_the_prompt(model):
    persona = await answer(model, ask("a pirate named Greta Holm, 67 years old, who loves jazz"))

    assert persona["name"] == "Greta Holm"
    assert persona["age"] == "67"
    assert persona["occupation"] == "Pirate"
    assert any(
        item["key"] == "hobbies" and "jazz" in item["value"] for item in persona["extensions"]
    )


async def test_the_age_is_always_a_number_as_text(model):
    for prompt in ("an elderly gardener", "a young courier", "a chef", "aged 31, a spy"):
        assert re.fullmatch(r"\d{1,3}", (await answer(model, ask(prompt)))["age"])


async def test_the_persona_is_built_around_the_prompt(model):
    persona = await answer(model, ask("a lighthouse keeper haunted by drowned sailors"))

    assert "lighthouse" in persona["summary"]
    assert "haunted" in persona["summary"]
    assert "lighthouse keeper haunted by drowned sailors" in persona["background"]


# --- enhance -----------------------------------------------------------------------------------


async def test_an_enhance_fits_the_changes_schema_and_changes_personality_and_background(
    model, renderer, conforms
):
    current = persona_data()

    changes = await answer(model, enhance(renderer, "make her a retired pilot"))

    assert conforms(changes, PERSONA_CHANGES_SCHEMA.schema) == []
    assert changes["personality"].startswith(current.personality)
    assert changes["background"].startswith(current.background)
    assert "make her a retired pilot" in changes["personality"]
    assert "make her a retired pilot" in changes["background"]


async def test_an_enhance_leaves_identity_title_and_other_fields_alone(model, renderer):
    changes = await answer(model, enhance(renderer, "make her a retired pilot"))

    unchanged = ("title", "name", "age", "gender", "summary", "appearance", "occupation")
    assert all(changes[field] is None for field in unchanged)
    assert changes["extensions"] == []
    assert "make her a retired pilot" in changes["note_for_user"]
    assert len(changes["note_for_user"]) <= NOTE_LIMIT


async def test_an_enhance_of_full_fields_still_changes_them_within_the_limit(model, renderer):
    full = "Quiet and watchful. " * 400  # exactly 8000 characters

    changes = await answer(model, enhance(renderer, "x" * 2048, personality=full.strip()))

    assert len(changes["personality"]) <= FIELD_LIMITS["personality"]
    assert changes["personality"] != full.strip()
    assert "xxxx" in changes["personality"]


async def test_an_enhance_without_a_persona_block_is_rejected(model):
    request = ask("make her older", PERSONA_CHANGES_SCHEMA)

    with pytest.raises(ProviderRejectedError):
        await model.complete(request)


# --- property actions --------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(PropertyAction))
@pytest.mark.parametrize("name", ["appearance", "background", "daily_routine", "fears"])
async def test_a_property_action_answers_exactly_the_one_property(
    model, renderer, conforms, action, name
):
    request = property_request(renderer, name, action)

    result = await answer(model, request)

    assert list(result) == [name]
    assert conforms(result, property_schema(name).schema) == []
    assert result[name].strip()
    assert len(result[name]) <= FIELD_LIMITS["background"]


async def test_expand_keeps_the_current_text_and_adds_detail(model, renderer):
    current = persona_data().appearance

    result = await answer(model, property_request(renderer, "appearance", PropertyAction.EXPAND))

    assert result["appearance"].startswith(current)
    assert len(result["appearance"]) > len(current)


async def test_rewrite_rephrases_the_current_text(model, renderer):
    current = "Raised on a northern island. Keeps the last manned lighthouse."

    request = property_request(renderer, "background", PropertyAction.REWRITE, background=current)
    result = (await answer(model, request))["background"]

    assert result != current
    assert "Keeps the last manned lighthouse. Raised on a northern island." in result


async def test_rewriting_a_rewrite_changes_it_again(model, renderer):
    first = await answer(model, property_request(renderer, "background", PropertyAction.REWRITE))
    rewritten = first["background"]

    again = property_request(renderer, "background", PropertyAction.REWRITE, background=rewritten)

    assert (await answer(model, again))["background"] != rewritten


async def test_create_writes_a_new_custom_property_from_the_persona(model, renderer):
    request = property_request(
        renderer, "daily_routine", PropertyAction.CREATE, occupation="Lighthouse keeper"
    )

    text = (await answer(model, request))["daily_routine"]

    assert "Aurora Vale" in text
    assert "daily routine" in text
    assert "lighthouse keeper" in text


async def test_create_replaces_an_existing_built_in(model, renderer):
    current = persona_data().personality

    result = await answer(model, property_request(renderer, "personality", PropertyAction.CREATE))

    assert result["personality"] != current
    assert "Aurora Vale" in result["personality"]


# --- plain replies, other contracts, streaming -------------------------------------------------


async def test_without_a_schema_the_reply_is_labelled_and_echoes_the_user(model):
    completion = await model.complete(ask("How was the sea today?", schema=None))

    assert completion.text.startswith("[offline] ")
    assert "How was the sea today?" in completion.text
    assert len(re.findall(r"[.!?](?:\s|$)", completion.text)) >= 3


async def test_an_unknown_contract_gets_the_simplest_conforming_answer(model, conforms):
    schema = JsonSchema(
        name="classification",
        schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["rating", "tags", "headline", "minor"],
            "properties": {
                "rating": {"type": "string", "enum": ["sfw", "suggestive", "explicit"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "headline": {"type": ["string", "null"]},
                "minor": {"type": "boolean"},
            },
        },
    )

    result = await answer(model, ask("classify this", schema))

    assert conforms(result, schema.schema) == []


@pytest.mark.parametrize("schema", [PERSONA_SCHEMA, None])
async def test_the_stream_joins_to_the_completion_and_ends_with_it(model, schema):
    request = ask("a cartographer who draws places that do not exist yet", schema)

    items = [item async for item in model.stream(request)]

    *deltas, last = items
    assert all(isinstance(delta, TextDelta) for delta in deltas)
    assert isinstance(last, Completion)
    assert "".join(delta.text for delta in deltas) == last.text
    assert last == await model.complete(request)


async def test_the_stream_comes_in_small_deterministic_chunks(model):
    request = ask("a cartographer who draws places that do not exist yet")

    first = [item async for item in model.stream(request)]
    again = [item async for item in model.stream(request)]

    sizes = [len(item.text) for item in first if isinstance(item, TextDelta)]
    assert first == again
    assert len(sizes) > 20
    assert all(5 <= size <= 20 for size in sizes[:-1])
    assert 0 < sizes[-1] <= 20


async def test_a_chunk_delay_spaces_the_chunks_out_without_changing_them(model):
    request = ask("hi", schema=None)
    slow = OfflineChatModel(chunk_delay=0.001)

    assert [item async for item in slow.stream(request)] == [
        item async for item in model.stream(request)
    ]
