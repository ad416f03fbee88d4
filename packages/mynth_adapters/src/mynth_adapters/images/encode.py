"""Image encoding (PRODUCT.md §7.5): untrusted bytes → WebP (quality 80) + a 240x240 thumbnail.

Downloaded bytes are opened defensively (PROVIDERS §2.8): only WebP, PNG and JPEG are
decoded, the size is bounded before any pixel is decoded, `verify()` runs on a first handle
and the image is decoded from a fresh one. Anything Pillow cannot read becomes an
`ImageDownloadError`. The thumbnail is a cover crop anchored at the top, so faces survive.
Pillow's work is CPU-bound: `encode` runs it in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import io
from typing import Final, NamedTuple

from PIL import Image, ImageOps

from mynth_core.errors import ImageDownloadError

WEBP_QUALITY: Final = 80
WEBP_METHOD: Final = 4  # libwebp's default effort: ~40 ms for 896x1152
THUMBNAIL_SIZE: Final = (240, 240)
TOP_CENTRE: Final = (0.5, 0.0)  # cover crop anchored at the top (faces are near it)
ACCEPTED_FORMATS: Final = ("WEBP", "PNG", "JPEG")
MAX_SIDE: Final = 4096  # the largest provider size is 3136 (PROVIDERS §2.5)
MAX_PIXELS: Final = 16 * 1024 * 1024  # well below Pillow's own bomb limit (~89 M)


class EncodedImage(NamedTuple):
    """The stored forms of one image: WebP at its own size, the thumbnail, and that size."""

    webp: bytes
    thumbnail: bytes
    width: int
    height: int


async def encode(image_bytes: bytes, *, expect: tuple[int, int] | None = None) -> EncodedImage:
    """Decode `image_bytes` safely and re-encode them, in a worker thread.

    Raises:
        ImageDownloadError: the bytes are no decodable WebP/PNG/JPEG, are too large, or
            (with `expect`) are not `(width, height)` pixels.
    """
    return await asyncio.to_thread(encode_now, image_bytes, expect=expect)


def encode_now(image_bytes: bytes, *, expect: tuple[int, int] | None = None) -> EncodedImage:
    """`encode`, on the calling thread (for code already running in a worker thread)."""
    with decode(image_bytes, expect=expect) as image:
        return encode_picture(image)


def decode(image_bytes: bytes, *, expect: tuple[int, int] | None = None) -> Image.Image:
    """The decoded image, checked as `encode` describes; the caller owns it.

    Raises:
        ImageDownloadError: see `encode`.
    """
    if not image_bytes:
        raise ImageDownloadError("the image is empty")
    try:
        with Image.open(io.BytesIO(image_bytes), formats=ACCEPTED_FORMATS) as probe:
            _check_size(probe.size, expect)
            probe.verify()
        image = Image.open(io.BytesIO(image_bytes), formats=ACCEPTED_FORMATS)
        image.load()
    except ImageDownloadError:
        raise
    except Exception as exc:  # Pillow's decoders raise many types on hostile input
        raise ImageDownloadError(f"the image could not be decoded ({type(exc).__name__})") from exc
    return image


def encode_picture(image: Image.Image) -> EncodedImage:
    """WebP (quality 80) at the image's size and its 240x240 top-anchored thumbnail."""
    picture = image.convert("RGBA" if image.has_transparency_data else "RGB")
    thumbnail = ImageOps.fit(
        picture, THUMBNAIL_SIZE, method=Image.Resampling.LANCZOS, centering=TOP_CENTRE
    )
    return EncodedImage(_webp(picture), _webp(thumbnail), picture.width, picture.height)


def _check_size(size: tuple[int, int], expect: tuple[int, int] | None) -> None:
    width, height = size
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE and width * height <= MAX_PIXELS):
        raise ImageDownloadError(f"the image is {width}x{height} pixels: too large to accept")
    if expect is not None and size != expect:
        raise ImageDownloadError(
            f"the image is {width}x{height} pixels, not the {expect[0]}x{expect[1]} asked for"
        )


def _webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return buffer.getvalue()
