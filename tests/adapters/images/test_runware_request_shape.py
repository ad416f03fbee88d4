"""What mynth sends to Runware (PROVIDERS §2.2-2.5): one task in an array, per-model fields."""

from __future__ import annotations

import pytest

from mynth_adapters.images.runware import request_size, task_body
from mynth_core.errors import ProviderRejectedError
from mynth_core.images.registry import PROMPT_LIMIT, ULTRA_SIZES, ImageRegistry
from providers.runware import no_capacity

REGISTRY = ImageRegistry()
SCHNELL = REGISTRY.get("black-forest-labs/flux-schnell")
DEV = REGISTRY.get("black-forest-labs/flux-dev")
ULTRA = REGISTRY.get("black-forest-labs/flux-1.1-pro-ultra")
COMMON = {
    "numberResults": 1,
    "outputType": "URL",
    "outputFormat": "WEBP",
    "outputQuality": 80,  # the quality mynth stores (PRODUCT §7.5), so it is kept as is
    "includeCost": True,
}

MODELS = [
    # (unified id, AIR, width, height, steps, CFGScale)
    ("black-forest-labs/flux-schnell", "runware:100@1", 512, 512, 4, None),
    ("black-forest-labs/flux-dev", "runware:101@1", 896, 1152, 28, 3.5),
    ("black-forest-labs/flux-1-pro", "bfl:1@1", 896, 1152, None, None),
    ("bytedance/seedream-3", "bytedance:3@1", 896, 1152, None, None),
    ("black-forest-labs/flux-1.1-pro-ultra", "bfl:2@2", 1664, 2496, None, None),
]


async def test_the_body_is_an_array_of_one_inference_task_with_a_bearer_key(
    generator, runware, a_request
):
    request = a_request()

    await generator.generate(request)

    (sent,) = runware.inference_requests
    assert sent.method == "POST"
    assert sent.path == "/v1"  # the API URL itself, no trailing slash
    assert sent.header("authorization") == f"Bearer {runware.api_key}"
    assert sent.header("content-type") == "application/json"
    body = sent.json()
    assert isinstance(body, list)
    (task,) = body
    assert task["taskType"] == "imageInference"
    assert task["taskUUID"] == request.task_uuid
    assert task["positivePrompt"] == request.prompt


@pytest.mark.parametrize(("model_id", "air", "width", "height", "steps", "cfg"), MODELS)
async def test_each_registered_model_gets_its_own_fields_and_the_fake_accepts_them(
    generator, runware, a_request, model_id, air, width, height, steps, cfg
):
    model = REGISTRY.get(model_id)

    image = await generator.generate(a_request(model))

    (task,) = runware.inference_requests[0].json()
    expected = {
        "taskType": "imageInference",
        "taskUUID": task["taskUUID"],
        "model": air,
        "positivePrompt": task["positivePrompt"],
        "width": width,
        "height": height,
        **({"steps": steps} if steps is not None else {}),
        **({"CFGScale": cfg} if cfg is not None else {}),
        **COMMON,
    }
    assert task == expected
    assert "negativePrompt" not in task
    assert (image.width, image.height) == (width, height)


def test_bfl_and_bytedance_models_get_neither_steps_nor_cfg_scale(a_request):
    for model_id in ("black-forest-labs/flux-1-pro", "bytedance/seedream-3"):
        task = task_body(a_request(REGISTRY.get(model_id)), 896, 1152)

        assert not {"steps", "CFGScale", "negativePrompt"} & set(task)


@pytest.mark.parametrize(
    ("asked", "pair"),
    [
        ((1664, 2496), (1664, 2496)),  # a fixed pair is kept
        ((896, 1152), (1792, 2368)),  # 0.78 → 3:4
        ((1152, 896), (2368, 1792)),  # landscape → the mirror
        ((512, 512), (2048, 2048)),  # square
        ((720, 1280), (1536, 2752)),  # 9:16
        ((600, 1400), (1344, 3136)),  # 9:21
    ],
)
def test_a_fixed_size_model_is_asked_for_its_pair_nearest_in_aspect(asked, pair):
    assert request_size(ULTRA, *asked) == pair
    assert pair in ULTRA_SIZES


async def test_a_fixed_size_request_is_sent_and_checked_at_the_chosen_pair(
    generator, runware, a_request
):
    image = await generator.generate(a_request(ULTRA, width=896, height=1152))

    (task,) = runware.inference_requests[0].json()
    assert (task["width"], task["height"]) == (1792, 2368)
    assert (image.width, image.height) == (1792, 2368)


@pytest.mark.parametrize(
    ("asked", "sent"),
    [((896, 1152), (896, 1152)), ((900, 1130), (896, 1152)), ((50, 4000), (128, 2048))],
)
def test_other_models_get_multiples_of_64_within_128_to_2048(asked, sent):
    assert request_size(DEV, *asked) == sent


def test_the_prompt_is_clipped_to_the_limit(a_request):
    task = task_body(a_request(prompt="x" * (PROMPT_LIMIT + 50)), 512, 512)

    assert len(task["positivePrompt"]) == PROMPT_LIMIT


async def test_a_prompt_under_two_characters_is_refused_without_a_call(
    generator, runware, a_request
):
    with pytest.raises(ProviderRejectedError):
        await generator.generate(a_request(prompt=" x "))

    assert runware.requests == ()


async def test_a_retry_resends_the_same_task_uuid(generator, runware, a_request):
    runware.script(no_capacity(), no_capacity())
    request = a_request()

    await generator.generate(request)

    uuids = [r.json()[0]["taskUUID"] for r in runware.inference_requests]
    assert uuids == [request.task_uuid] * 3
    assert runware.inferences == {request.task_uuid: 1}


def test_the_api_key_is_not_in_the_generator_repr(generator, runware):
    assert runware.api_key not in repr(generator)
