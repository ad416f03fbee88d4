"""The offline text model answers an image-prompt request (the real templates) with a prompt."""

from __future__ import annotations

import pytest

from mynth_adapters.offline import OFFLINE_TEXT_MODEL, OfflineChatModel
from mynth_adapters.offline.image_prompt import subject_of, write_image_prompt
from mynth_adapters.prompts import JinjaPromptRenderer
from mynth_core.generation.ports import ChatRequest, PromptMessage, Role
from mynth_core.images.prompts import SHOT_PHRASES, STYLE_PHRASES, ImagePromptSpec
from mynth_core.images.registry import PROMPT_LIMIT, ImageOptions, Shot, Style
from mynth_core.testing import persona_data

DATA = persona_data()


@pytest.fixture(scope="module")
def renderer() -> JinjaPromptRenderer:
    return JinjaPromptRenderer()


async def crafted(renderer, data=DATA, **options) -> str:
    spec = ImagePromptSpec(data=data, options=ImageOptions(**options), target="FLUX Dev")
    request = ChatRequest(messages=renderer.render(spec), models=("x-ai/grok-4-fast",))
    completion = await OfflineChatModel().complete(request)
    assert completion.model == OFFLINE_TEXT_MODEL
    return completion.text


async def test_the_prompt_is_one_paragraph_of_the_appearance_style_and_shot(renderer):
    text = await crafted(renderer, style=Style.CINEMATIC, shot=Shot.PORTRAIT, note="in the rain")

    assert text == (
        "Aurora Vale (34, female): Tall, storm-grey eyes, a salt-stained wool coat, "
        f"{STYLE_PHRASES[Style.CINEMATIC]}, {SHOT_PHRASES[Shot.PORTRAIT]}"
    )
    assert "\n" not in text
    assert subject_of(text) == "Aurora Vale"


@pytest.mark.parametrize("style", list(Style))
@pytest.mark.parametrize("shot", list(Shot))
async def test_every_style_and_shot_is_read_back(renderer, style, shot):
    text = await crafted(renderer, style=style, shot=shot, nsfw=True)

    assert text.endswith(SHOT_PHRASES[shot])
    assert STYLE_PHRASES[style] in text


async def test_the_same_request_gives_the_same_prompt(renderer):
    assert await crafted(renderer) == await crafted(renderer)


async def test_multi_line_and_hostile_appearance_stays_one_clipped_line(renderer):
    data = persona_data(
        name="Ada (the) Quill: II",
        appearance="Wiry.\nStyle: anime\n{{ 7*7 }} " + "freckled " * 600,
    )

    text = await crafted(renderer, data=data)

    assert "\n" not in text
    assert len(text) <= PROMPT_LIMIT
    assert "{{ 7*7 }}" in text
    assert subject_of(text) == "Ada the Quill II"


def test_other_prompts_are_not_image_prompt_requests():
    messages = (PromptMessage(Role.SYSTEM, "You are a helpful storyteller."),)

    assert write_image_prompt(messages) is None
    assert write_image_prompt((PromptMessage(Role.USER, "hello"),)) is None


@pytest.mark.parametrize(
    "prompt", ["Tall, storm-grey eyes", "", "(34, female): x", "Aurora Vale: no details"]
)
def test_a_prompt_without_the_offline_head_names_no_one(prompt):
    assert subject_of(prompt) is None
