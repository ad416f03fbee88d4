"""Encoding (PRODUCT §7.5): safe decoding, WebP at size, a 240x240 thumbnail anchored at the top."""

from __future__ import annotations

import importlib
import io
import struct
import threading
import zlib

import pytest
from PIL import Image

from mynth_adapters.images import encode, encode_now
from mynth_core.errors import ImageDownloadError

RED, BLUE = (220, 20, 20), (20, 20, 220)
encode_module = importlib.import_module("mynth_adapters.images.encode")  # `encode` is shadowed


def halves(size: tuple[int, int], image_format: str = "PNG") -> bytes:
    """A picture whose top half is red and bottom half blue."""
    width, height = size
    picture = Image.new("RGB", size, BLUE)
    picture.paste(RED, (0, 0, width, height // 2))
    buffer = io.BytesIO()
    picture.save(buffer, image_format)
    return buffer.getvalue()


def close_to(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims `width` x `height` (with a valid CRC)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


async def test_the_image_is_re_encoded_as_webp_at_its_size(open_image):
    encoded = await encode(halves((300, 500)), expect=(300, 500))

    assert (encoded.width, encoded.height) == (300, 500)
    webp = open_image(encoded.webp)
    assert (webp.format, webp.size, webp.mode) == ("WEBP", (300, 500), "RGB")
    assert (encoded.webp[:4], encoded.webp[8:12]) == (b"RIFF", b"WEBP")


async def test_the_thumbnail_is_a_240_square_cover_crop_anchored_at_the_top(open_image):
    encoded = await encode(halves((300, 600)))

    thumbnail = open_image(encoded.thumbnail).convert("RGB")
    assert thumbnail.size == (240, 240)
    # A centred crop would be half blue; the top-anchored one keeps the red top half only.
    for y in (2, 120, 237):
        assert close_to(thumbnail.getpixel((120, y)), RED)


async def test_a_landscape_image_is_cropped_at_the_sides(open_image):
    encoded = await encode(halves((600, 300)))

    thumbnail = open_image(encoded.thumbnail).convert("RGB")
    assert close_to(thumbnail.getpixel((120, 5)), RED)
    assert close_to(thumbnail.getpixel((120, 234)), BLUE)


def webp(picture: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", quality=80, **options)
    return buffer.getvalue()


def test_a_plain_lossy_webp_of_the_expected_size_is_kept_byte_for_byte(open_image):
    delivered = halves((300, 600), "WEBP")

    encoded = encode_now(delivered, expect=(300, 600))

    assert encoded.webp == delivered
    assert (encoded.width, encoded.height) == (300, 600)
    assert open_image(encoded.thumbnail).size == (240, 240)


@pytest.mark.parametrize(
    "delivered",
    [
        pytest.param(webp(Image.new("RGB", (64, 64), RED), exif=b"Exif\x00\x00MM"), id="exif"),
        pytest.param(webp(Image.new("RGBA", (64, 64), (0, 0, 0, 0))), id="alpha"),
        pytest.param(webp(Image.new("RGB", (64, 64), RED), lossless=True), id="lossless"),
        pytest.param(webp(Image.new("RGB", (64, 64), RED)) + b"<script>", id="trailing-bytes"),
    ],
)
def test_any_other_webp_is_re_encoded(delivered, monkeypatch, open_image):
    re_encoded = []
    real = encode_module.encode_picture
    monkeypatch.setattr(
        encode_module, "encode_picture", lambda image: re_encoded.append(image) or real(image)
    )

    encoded = encode_now(delivered)

    assert len(re_encoded) == 1
    riff_size = int.from_bytes(encoded.webp[4:8], "little")
    assert riff_size + 8 == len(encoded.webp)  # nothing trails the container
    assert encoded.webp[8:15] == b"WEBPVP8"  # plain lossy, or extended for the alpha channel
    assert open_image(encoded.webp).size == (64, 64)


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (webp(Image.new("RGB", (33, 17), BLUE)), True),  # odd sizes: a padded chunk
        (webp(Image.new("RGB", (64, 64), RED), lossless=True), False),
        (b"RIFF\x04\x00\x00\x00WEBPVP8 ", False),
        (b"", False),
    ],
)
def test_only_one_vp8_chunk_filling_the_riff_container_is_plain_lossy(data, plain):
    assert encode_module.is_plain_lossy_webp(data) is plain
    if plain:  # a byte more or less breaks the container's sizes
        assert not encode_module.is_plain_lossy_webp(data + b"\x00\x00")
        assert not encode_module.is_plain_lossy_webp(data[:-2])


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_webp_png_and_jpeg_are_accepted(image_format, open_image):
    encoded = encode_now(halves((64, 64), image_format))

    assert open_image(encoded.webp).size == (64, 64)


def test_transparency_is_kept(open_image):
    buffer = io.BytesIO()
    Image.new("RGBA", (32, 32), (0, 0, 0, 0)).save(buffer, "PNG")

    encoded = encode_now(buffer.getvalue())

    assert open_image(encoded.webp).mode == "RGBA"


def test_a_palette_image_becomes_rgb(open_image):
    buffer = io.BytesIO()
    Image.new("P", (32, 32), 3).save(buffer, "PNG")

    assert open_image(encode_now(buffer.getvalue()).webp).mode == "RGB"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"<html>not an image</html>", id="html"),
        pytest.param(halves((64, 64))[:80], id="truncated-png"),
        pytest.param(halves((64, 64), "WEBP")[:40], id="truncated-webp"),
        pytest.param(halves((64, 64), "GIF"), id="gif-not-accepted"),
        pytest.param(halves((64, 64), "BMP"), id="bmp-not-accepted"),
        pytest.param(png_claiming(5000, 5000), id="too-many-pixels"),
        pytest.param(png_claiming(100_000, 100_000), id="decompression-bomb"),
        pytest.param(png_claiming(8192, 16), id="too-wide"),
    ],
)
def test_bytes_that_are_no_acceptable_image_are_a_download_error(data):
    with pytest.raises(ImageDownloadError):
        encode_now(data)


def test_an_image_of_another_size_than_expected_is_a_download_error():
    with pytest.raises(ImageDownloadError, match="not the 512x512"):
        encode_now(halves((64, 64)), expect=(512, 512))


async def test_the_work_runs_off_the_event_loop_thread(monkeypatch):
    threads: list[threading.Thread] = []
    real = encode_module.encode_picture

    def spy(image):
        threads.append(threading.current_thread())
        return real(image)

    monkeypatch.setattr(encode_module, "encode_picture", spy)

    await encode(halves((32, 32)))

    assert threads
    assert threads[0] is not threading.current_thread()
