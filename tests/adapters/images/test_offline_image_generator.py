"""The offline renderer (PRODUCT §13): deterministic, labelled, encoded like any image."""

from __future__ import annotations

import time

import pytest

from mynth_adapters.images import OfflineImageGenerator
from mynth_adapters.images.offline import CAPTION, _initials, draw
from mynth_core.images.registry import OFFLINE_IMAGE_MODEL, ImageRegistry

DEV = ImageRegistry().get("black-forest-labs/flux-dev")
CRAFTED = "Aurora Vale (34, female): Tall, storm-grey eyes, full-body shot showing the whole figure"


@pytest.fixture
def offline() -> OfflineImageGenerator:
    return OfflineImageGenerator()


async def test_the_image_is_labelled_offline_at_the_asked_size(offline, a_request, open_image):
    image = await offline.generate(a_request(DEV, prompt=CRAFTED))

    assert image.model == OFFLINE_IMAGE_MODEL == "offline/image"
    assert image.cost_usd is None
    assert (image.width, image.height) == (896, 1152)
    assert open_image(image.webp).size == (896, 1152)
    assert open_image(image.thumbnail).size == (240, 240)


async def test_the_same_prompt_and_size_give_the_same_bytes(offline, a_request):
    first = await offline.generate(a_request(prompt=CRAFTED))
    again = await offline.generate(a_request(prompt=CRAFTED))

    assert (first.webp, first.thumbnail) == (again.webp, again.thumbnail)


@pytest.mark.parametrize(
    "change", [{"prompt": CRAFTED + ", at dusk"}, {"width": 640}, {"height": 384}]
)
async def test_another_prompt_or_size_gives_another_picture(offline, a_request, change):
    first = await offline.generate(a_request(prompt=CRAFTED))
    other = await offline.generate(a_request(**{"prompt": CRAFTED} | change))

    assert first.webp != other.webp


def test_the_colour_follows_the_persona_whatever_the_rest_of_the_prompt():
    one = draw("Aurora Vale (34, female): a wool coat", 256, 256)
    two = draw("Aurora Vale (34, female): a silk dress, anime illustration", 256, 256)
    other = draw("Ivo Brandt (70, male): a wool coat", 256, 256)

    corner = (0, 255)  # inside the caption band, whose colour comes from the persona
    assert one.getpixel(corner) == two.getpixel(corner)
    assert one.getpixel(corner) != other.getpixel(corner)


@pytest.mark.parametrize(
    ("name", "initials"),
    [("Aurora Vale", "AV"), ("ada", "A"), ("Jean-Luc de la Cour", "JC"), (None, ""), ("42", "")],
)
def test_initials_come_from_the_first_and_last_names(name, initials):
    assert _initials(name) == initials


def test_a_prompt_without_a_name_still_renders_with_the_caption():
    picture = draw("Tall, storm-grey eyes, a salt-stained wool coat.", 512, 512)

    assert picture.size == (512, 512)
    assert CAPTION == "OFFLINE PREVIEW"


def test_a_portrait_is_rendered_well_under_a_tenth_of_a_second():
    draw(CRAFTED, 896, 1152)  # warm up the font loader
    started = time.perf_counter()

    draw(CRAFTED, 896, 1152)

    assert time.perf_counter() - started < 0.1
