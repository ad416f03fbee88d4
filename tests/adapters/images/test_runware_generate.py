"""The happy path end to end: inference, download from the allowed host, WebP + thumbnail."""

from __future__ import annotations

import asyncio
import time

from mynth_core.images.registry import ImageRegistry
from providers.runware import mixed, slow

REGISTRY = ImageRegistry()
DEV = REGISTRY.get("black-forest-labs/flux-dev")


async def test_generate_returns_the_encoded_image_its_model_and_cost(
    generator, runware, a_request, open_image
):
    image = await generator.generate(a_request(DEV))

    assert image.model == "black-forest-labs/flux-dev"
    assert image.cost_usd == 0.0038
    assert (image.width, image.height) == (896, 1152)
    stored = open_image(image.webp)
    assert (stored.format, stored.size) == ("WEBP", (896, 1152))
    thumbnail = open_image(image.thumbnail)
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (240, 240))


async def test_one_inference_and_one_unauthenticated_download_of_the_returned_url(
    generator, runware, a_request
):
    request = a_request()

    await generator.generate(request)

    assert runware.inferences == {request.task_uuid: 1}
    (download,) = runware.image_requests
    assert download.method == "GET"
    assert download.header("authorization") is None
    assert download.header("accept") == "image/*"
    assert download.at >= runware.inference_requests[0].at


async def test_errors_about_another_task_beside_our_data_are_ignored(generator, runware, a_request):
    runware.script(mixed())

    image = await generator.generate(a_request())

    assert image.width == 512


async def test_a_slow_answer_within_the_read_timeout_is_waited_for(generator, runware, a_request):
    runware.script(slow(0.1))

    image = await generator.generate(a_request())

    assert image.height == 512
    assert len(runware.inference_requests) == 1


async def test_concurrent_generations_overlap_on_the_fake(make_generator, runware, a_request):
    runware.latency = 0.2
    generator = make_generator()
    started = time.monotonic()

    images = await asyncio.gather(*(generator.generate(a_request()) for _ in range(4)))

    assert len(images) == 4
    assert time.monotonic() - started < 0.75  # four 200 ms inferences, not 800 ms in a row
    assert len(runware.inferences) == 4
