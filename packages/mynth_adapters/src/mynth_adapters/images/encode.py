"""Image encoding (PRODUCT.md §7.5): untrusted bytes → WebP (quality 80) + a 240x240 thumbnail.

Downloaded bytes are opened defensively (PROVIDERS §2.8): only WebP, PNG and JPEG are
decoded, the size is bounded before any pixel is decoded, `verify()` runs on a first handle
and the image is decoded from a fresh one. Anything Pillow cannot read becomes an
`ImageDownloadError`. The thumbnail is a cover crop anchored at the top, so faces survive.

A download that already is what we store is kept byte for byte (ADR 10): a plain lossy
WebP (one `VP8 ` chunk and nothing else: no alpha, animation, ICC profile, EXIF or XMP, no
trailing bytes) that decodes at the expected size. Runware is asked for exactly that
(`outputFormat: WEBP`, `outputQuality: 80`); re-encoding it would only lose quality and
cost ~10-150 ms of CPU per image. Everything else (PNG, JPEG, extended WebP) is re-encoded.
Pillow's work is CPU-bound: `encode` runs it in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import io
import struct
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
# "RIFF", the RIFF size, "WEBP", the first chunk's type and size (little-endian).
_WEBP_HEADER: Final = struct.Struct("<4sI8sI")


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
        if image.format == "WEBP" and is_plain_lossy_webp(image_bytes):
            return EncodedImage(image_bytes, _webp(_thumbnail(image)), image.width, image.height)
        return encode_picture(image)


def is_plain_lossy_webp(data: bytes) -> bool:
    """Whether `data` is a simple-format lossy WebP (RFC 9649 §2.5).

    That is a RIFF container holding one `VP8 ` chunk that fills it exactly, so nothing
    rides along with the picture.
    """
    if len(data) < _WEBP_HEADER.size or data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8 ":
        return False
    riff_size: int
    chunk_size: int
    _, riff_size, _, chunk_size = _WEBP_HEADER.unpack_from(data)
    padded = chunk_size + (chunk_size & 1)
    return riff_size + 8 == len(data) and _WEBP_HEADER.size + padded == len(data)


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
    return EncodedImage(_webp(picture), _webp(_thumbnail(picture)), picture.width, picture.height)


def _thumbnail(picture: Image.Image) -> Image.Image:
    return ImageOps.fit(
        picture, THUMBNAIL_SIZE, method=Image.Resampling.LANCZOS, centering=TOP_CENTRE
    )


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
