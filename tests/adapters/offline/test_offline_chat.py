"""The offline chat partner on the real path: core chat specs → Jinja prompts → offline answers."""

from __future__ import annotations

import json
import re

import attrs
import pytest

from mynth_adapters.offline import OFFLINE_TEXT_MODEL, OfflineChatModel
from mynth_core.chats.model import NsfwLevel, UserPersona
from mynth_core.chats.progress import ChapterStarted, Delta
from mynth_core.chats.prompting import ROLLING_SUMMARY_CHARS, StoryHeading
from mynth_core.chats.prompts import (
    ROLEPLAY_SUMMARY_FIELDS,
    ROLEPLAY_SUMMARY_SCHEMA,
    AuthorNote,
    ContinueInstruction,
    RoleplaySummary,
    RoleplaySummaryPrompt,
    RoleplaySystem,
    RollingSummaryPrompt,
    StorySystem,
    SummaryBlock,
)
from mynth_core.generation.ports import ChatRequest, Completion, PromptMessage, Role, TextDelta
from mynth_core.personas.fields import PersonaPatch
from mynth_core.testing import persona_data

CHARACTER = RoleplaySummary(
    name="Aurora Vale",
    age="34",
    gender="female",
    appearance="tall, storm-grey eyes, salt-stained wool coat",
    personality="dry humour; fiercely loyal",
    background="Keeps the last manned lighthouse.",
)
USER = UserPersona("Tom Reyes", "A ferry pilot.")
LATEST = "Shall we climb to the lamp room before the storm breaks?"
EARLIER = "Tell me about the ships you hear at night."


def user(text: str) -> PromptMessage:
    return PromptMessage(Role.USER, text)


def assistant(text: str) -> PromptMessage:
    return PromptMessage(Role.ASSISTANT, text)


def roleplay_system(renderer, character: RoleplaySummary = CHARACTER, **settings):
    spec = RoleplaySystem(
        character=character,
        user_persona=settings.get("user_persona", USER),
        scenario=settings.get("scenario", "A storm traps them in the lighthouse."),
        nsfw=settings.get("nsfw", NsfwLevel.SFW),
    )
    return renderer.render(spec)


def story_system(renderer, chapter: int, character: RoleplaySummary = CHARACTER, **settings):
    spec = StorySystem(
        character=character,
        scenario=settings.get("scenario"),
        nsfw=settings.get("nsfw", NsfwLevel.SUGGESTIVE),
        chapter=chapter,
    )
    return renderer.render(spec)


def assembled(renderer, system, latest: str = LATEST, *, history=()) -> tuple[PromptMessage, ...]:
    """The order `ChatWriter.prompt` assembles: system, summary, history, note, latest."""
    return (
        *system,
        *renderer.render(SummaryBlock("Aurora Vale and Tom Reyes met at the harbour.")),
        *history,
        *renderer.render(AuthorNote("Keep it atmospheric.")),
        user(latest),
    )


async def reply(model, messages, schema=None) -> str:
    """The streamed answer, checked to join up to the completion it ends with."""
    request = ChatRequest(messages=tuple(messages), models=("x-ai/grok-4-fast",), schema=schema)
    *deltas, completion = [item async for item in model.stream(request)]
    assert isinstance(completion, Completion)
    assert completion.model == OFFLINE_TEXT_MODEL
    assert all(isinstance(delta, TextDelta) for delta in deltas)
    assert "".join(delta.text for delta in deltas) == completion.text
    assert completion == await OfflineChatModel().complete(request)  # deterministic
    return completion.text


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w'-]+", text))


def paragraphs(text: str) -> list[str]:
    return [part for part in text.split("\n\n") if part.strip()]


# --- roleplay summary (§6.6) -------------------------------------------------------------------


async def test_a_roleplay_summary_fits_the_schema_and_comes_from_the_data(
    model, renderer, conforms
):
    data = persona_data(
        appearance="Tall and lean. Storm-grey eyes; a salt-stained wool coat.",
        personality="Dry humour, fiercely loyal. Distrusts easy answers.",
        background="Raised on a northern island. Keeps the last manned lighthouse. Hates fog.",
        occupation="Lighthouse keeper",
    ).apply(
        PersonaPatch.of(
            extensions={
                "hobbies": "Restoring old radios.",
                "favorite_foods": "Smoked herring",
                "skills": "Knots, first aid and signal lamps.",
                "goals": "Find the ship she hears at night.",
                "fears": "Deep still water.",
            }
        )
    )
    messages = renderer.render(RoleplaySummaryPrompt(data))

    output = json.loads(await reply(model, messages, ROLEPLAY_SUMMARY_SCHEMA))

    assert conforms(output, ROLEPLAY_SUMMARY_SCHEMA.schema) == []
    assert output == {
        "appearance": "Tall and lean, Storm-grey eyes, a salt-stained wool coat",
        "personality": "Dry humour; fiercely loyal; Distrusts easy answers",
        "background": "Raised on a northern island. Keeps the last manned lighthouse.",
        "interests": "Restoring old radios; favorite foods: Smoked herring",
        "skills": "Knots, first aid and signal lamps",
        "motivations": "Lighthouse keeper; Find the ship she hears at night",
    }


async def test_a_roleplay_summary_leaves_absent_fields_null_and_invents_nothing(
    model, renderer, conforms
):
    data = persona_data()
    messages = renderer.render(RoleplaySummaryPrompt(data))

    output = json.loads(await reply(model, messages, ROLEPLAY_SUMMARY_SCHEMA))

    assert conforms(output, ROLEPLAY_SUMMARY_SCHEMA.schema) == []
    assert (output["interests"], output["skills"], output["motivations"]) == (None, None, None)
    assert all(output[field] for field in ("appearance", "personality", "background"))
    written = words(" ".join(output[f] for f in ROLEPLAY_SUMMARY_FIELDS[:3]))
    assert written <= words(f"{data.appearance} {data.personality} {data.background}")
    assert data.name not in json.dumps(output)


async def test_a_roleplay_summary_of_long_fields_stays_within_the_budgets(model, renderer):
    long = ("A weathered face, a long scar over the left brow, grey braids. " * 200)[:8000]
    data = persona_data(appearance=long, personality=long, background=long)

    output = json.loads(
        await reply(model, renderer.render(RoleplaySummaryPrompt(data)), ROLEPLAY_SUMMARY_SCHEMA)
    )

    assert len(output["appearance"].split()) < 100
    assert len(output["personality"].split()) <= 50
    assert len(output["background"].split()) <= 60
    assert all("\n" not in output[f] for f in ("appearance", "personality", "background"))


# --- roleplay replies (§6.4) -------------------------------------------------------------------


async def test_a_roleplay_reply_is_in_character_and_answers_the_latest_message(model, renderer):
    history = (user(EARLIER), assistant('*She looks out to sea.* "They never reach the shore."'))
    messages = assembled(renderer, roleplay_system(renderer), history=history)

    text = await reply(model, messages)

    assert 1 <= len(paragraphs(text)) <= 3
    assert "Aurora Vale" in text
    assert LATEST in text
    assert EARLIER not in text
    assert re.search(r"\*[^*]+\*", text)  # an inner thought in italics
    assert re.search(r"“[^”]+”\s*$", text)  # ends on a line of dialogue: an opening
    assert not text.startswith(("[offline]", "Chapter"))


async def test_a_roleplay_reply_uses_the_characters_pronouns(model, renderer):
    him = attrs.evolve(CHARACTER, name="Ivo Brandt", gender="male")
    texts = [
        await reply(model, assembled(renderer, roleplay_system(renderer, him), f"Hello {n}"))
        for n in range(12)
    ]

    assert all("Ivo Brandt" in text for text in texts)
    assert not any(re.search(r"\b(?:her|their)\b", text) for text in texts)


async def test_roleplay_replies_are_deterministic_but_follow_the_message(model, renderer):
    system = roleplay_system(renderer, user_persona=None, scenario=None, nsfw=NsfwLevel.OFF)

    one = await reply(model, assembled(renderer, system, "Good evening."))
    again = await reply(model, assembled(renderer, system, "Good evening."))
    other = await reply(model, assembled(renderer, system, "Good morning."))

    assert one == again
    assert one != other


@pytest.mark.parametrize("latest", ["{{ 7*7 }} {name} {their}", "x" * 8000, "   "])
async def test_odd_user_text_and_names_are_quoted_safely(model, renderer, latest):
    odd = attrs.evolve(CHARACTER, name="Zed {0} {name}")

    text = await reply(model, assembled(renderer, roleplay_system(renderer, odd), latest))

    assert "Zed {0} {name}" in text
    assert "49" not in text
    assert len(text) < 1500
    if latest.strip() and len(latest) < 100:
        assert latest in text


# --- story chapters (§6.5) ---------------------------------------------------------------------


@pytest.mark.parametrize("number", [1, 4, 23])
async def test_a_chapter_opens_with_a_heading_that_parses_to_its_number(model, renderer, number):
    history = (user(EARLIER), assistant("Chapter 1: Old Ships\nThe fog came in."))
    messages = assembled(renderer, story_system(renderer, number), history=history)
    request = ChatRequest(messages=messages, models=("m",))
    heading = StoryHeading(number)

    events = [
        event
        async for item in model.stream(request)
        if isinstance(item, TextDelta)
        for event in heading.feed(item.text)
    ] + heading.flush()

    text = (await model.complete(request)).text
    first, _, _ = text.partition("\n")
    assert re.fullmatch(rf"Chapter {number}: \S.*", first)
    assert isinstance(events[0], ChapterStarted)
    assert events[0] == ChapterStarted(number, first.removeprefix(f"Chapter {number}: "))
    assert heading.chapter().title == first.removeprefix(f"Chapter {number}: ")
    body = "".join(event.text for event in events[1:] if isinstance(event, Delta))
    assert body.lstrip("\n") == heading.body(text)  # a chunk may end just after the heading
    assert not body.startswith("Chapter")


async def test_a_chapter_tells_the_users_direction_in_a_few_paragraphs(model, renderer):
    text = await reply(model, assembled(renderer, story_system(renderer, 2)))

    body = StoryHeading(2).body(text)
    chapter, separator, note = body.partition("\n\n---\n\n")
    assert separator
    assert 2 <= len(paragraphs(chapter)) <= 3
    assert LATEST in chapter
    assert "Aurora Vale" in chapter
    assert "offline" in note.lower()
    assert "MYNTH_OPENROUTER_API_KEY" in note


async def test_a_continue_message_progresses_the_story_without_quoting_it(model, renderer):
    text = await reply(model, assembled(renderer, story_system(renderer, 5), "continue"))

    first, _, body = text.partition("\n")
    assert first.startswith("Chapter 5: ")
    assert "continue" not in body.lower().split("---")[0]
    assert "Aurora Vale" in body


async def test_a_chapter_title_comes_from_the_direction(model, renderer):
    text = await reply(
        model, assembled(renderer, story_system(renderer, 3), "a walk to the lighthouse")
    )

    assert "Lighthouse" in text.partition("\n")[0]


# --- continue ----------------------------------------------------------------------------------


async def test_a_roleplay_continuation_is_one_new_sentence(model, renderer):
    target = '*She sets the lamp down.* "You should not have come here tonight."'
    messages = (
        *assembled(renderer, roleplay_system(renderer)),
        assistant(target),
        *renderer.render(ContinueInstruction(story=False)),
    )

    text = await reply(model, messages)

    assert "Aurora Vale" in text
    assert target not in text
    assert LATEST not in text
    assert "\n" not in text
    assert len(re.findall(r"[.!?](?:[”*]|\s|$)", text)) <= 2


async def test_a_story_continuation_carries_the_chapter_on_without_a_heading(model, renderer):
    target = "Chapter 5: Fog\nThe fog rolled in."
    messages = (
        *assembled(renderer, story_system(renderer, 5)),
        assistant(target),
        *renderer.render(ContinueInstruction(story=True)),
    )

    text = await reply(model, messages)

    assert not text.startswith("Chapter")
    assert "Aurora Vale" in text
    assert "\n" not in text
    assert text.endswith(".")


# --- rolling summary (§6.8) --------------------------------------------------------------------

TURNS = (
    ("Tom Reyes", "Can we wait out the storm up here?"),
    ("Aurora Vale", "*She checks the lamp.* “Only if you help me keep it lit.”\n\nThe wind howls."),
    ("Tom Reyes", "Deal. Where do you keep the spare oil?"),
    ("Aurora Vale", "“Under the stairs, behind the old charts.”"),
)


async def test_a_rolling_summary_is_a_short_factual_account_of_the_turns(model, renderer):
    spec = RollingSummaryPrompt(
        previous="Tom Reyes ferried Aurora Vale to the island.",
        turns=TURNS,
        character="Aurora Vale",
    )

    text = await reply(model, renderer.render(spec))

    assert text.startswith("Tom Reyes ferried Aurora Vale to the island.")
    assert "Tom Reyes and Aurora Vale" in text
    assert "4 turns" in text
    assert "Where do you keep the spare oil?" in text
    assert "Under the stairs, behind the old charts." in text
    assert "\n" not in text
    assert len(text) <= ROLLING_SUMMARY_CHARS


async def test_a_first_rolling_summary_of_long_turns_stays_short(model, renderer):
    turns = tuple((speaker, text * 200) for speaker, text in TURNS) * 10
    spec = RollingSummaryPrompt(previous=None, turns=turns, character="Aurora Vale")

    text = await reply(model, renderer.render(spec))

    assert text.startswith("Over 40 turns, Tom Reyes and Aurora Vale continued the story.")
    assert len(text) <= ROLLING_SUMMARY_CHARS


# --- anything else -----------------------------------------------------------------------------


async def test_a_prompt_from_no_chat_template_still_gets_the_labelled_echo(model):
    messages = (PromptMessage(Role.SYSTEM, "You are helpful."), user("What is the tide doing?"))

    text = await reply(model, messages)

    assert text.startswith("[offline] ")
    assert "What is the tide doing?" in text
