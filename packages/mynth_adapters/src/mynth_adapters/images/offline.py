"""`OfflineImageGenerator`: the embedded default's network-free `ImageGenerator` (PRODUCT.md §13).

It paints a placeholder at the requested size: a gradient in a colour derived from the
persona (its name when the prompt starts with one, as the offline text generator writes it,
else the prompt), soft circles, a head-and-shoulders silhouette with the persona's initials,
and an "OFFLINE PREVIEW" caption with the name. The same prompt and size always give the same
bytes (every choice is drawn from a SHA-256 of them), and every image is labelled
`offline/image`. Drawing and encoding take about 50 ms for 896x1152, in a worker thread.
"""

from __future__ import annotations

import asyncio
import colorsys
from typing import TYPE_CHECKING, Final

import attrs
from PIL import Image, ImageDraw, ImageFont, ImageOps

from mynth_adapters.images.encode import MAX_SIDE, EncodedImage, encode_picture
from mynth_adapters.offline.image_prompt import subject_of
from mynth_adapters.offline.writer import Seed
from mynth_core.images.ports import ImageRequest, RenderedImage
from mynth_core.images.registry import OFFLINE_IMAGE_MODEL

if TYPE_CHECKING:
    from mynth_core.images.ports import ImageGenerator

CAPTION: Final = "OFFLINE PREVIEW"
MIN_SIDE: Final = 64
_CIRCLES: Final = (4, 8)
_NAME_CHARS: Final = 40
_Colour = tuple[int, int, int]
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@attrs.frozen
class OfflineImageGenerator:
    """Deterministic placeholder pictures, encoded like any generated image; no cost."""

    async def generate(self, request: ImageRequest) -> RenderedImage:
        encoded = await asyncio.to_thread(render, request.prompt, request.width, request.height)
        return RenderedImage(
            webp=encoded.webp,
            thumbnail=encoded.thumbnail,
            width=encoded.width,
            height=encoded.height,
            model=OFFLINE_IMAGE_MODEL,
        )


def render(prompt: str, width: int, height: int) -> EncodedImage:
    """The encoded placeholder for `prompt` at `width` x `height` (clamped to 64-4096)."""
    with draw(prompt, width, height) as picture:
        return encode_picture(picture)


def draw(prompt: str, width: int, height: int) -> Image.Image:
    """The placeholder picture itself (RGB)."""
    width, height = (min(MAX_SIDE, max(MIN_SIDE, side)) for side in (width, height))
    name = subject_of(prompt)
    palette = Seed.of(["offline/image colour", name or prompt])
    seed = Seed.of(["offline/image", prompt, f"{width}x{height}"])
    hue = palette.number("hue", 0, 359) / 360
    dark = _hsv(hue, 0.55, 0.30)
    light = _hsv(hue + 0.07, 0.40, 0.88)
    gradient = Image.linear_gradient("L").resize((width, height))
    picture = ImageOps.colorize(gradient, dark, light)
    pen = ImageDraw.Draw(picture)
    short = min(width, height)
    for index in range(seed.number("circles", *_CIRCLES)):
        x = seed.number(f"x{index}", 0, width)
        y = seed.number(f"y{index}", 0, height)
        radius = seed.number(f"r{index}", short // 20, short // 5)
        tint = _mix(dark, light, seed.number(f"t{index}", 20, 80) / 100)
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tint)
    _silhouette(pen, (width, height), name, _mix(light, (255, 255, 255), 0.5), dark)
    _caption(pen, width, height, name, _mix(dark, (0, 0, 0), 0.45))
    return picture


def _silhouette(
    pen: ImageDraw.ImageDraw, size: tuple[int, int], name: str | None, colour: _Colour, ink: _Colour
) -> None:
    """A head and shoulders near the top (so the top-anchored thumbnail keeps them)."""
    width, height = size
    radius = min(width, height) * 0.16
    cx, cy = width / 2, height * 0.30
    pen.ellipse(
        (cx - 2.2 * radius, cy + 1.25 * radius, cx + 2.2 * radius, cy + 4.6 * radius), fill=colour
    )
    pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    initials = _initials(name)
    if initials:
        pen.text((cx, cy), initials, font=_font(radius * 0.8), fill=ink, anchor="mm")


def _caption(
    pen: ImageDraw.ImageDraw, width: int, height: int, name: str | None, band: _Colour
) -> None:
    """The "OFFLINE PREVIEW" band at the bottom, with the persona's name under it."""
    size = max(8.0, min(width / 14, height / 18))
    top = height - size * (3.4 if name else 2.0)
    pen.rectangle((0, top, width, height), fill=band)
    pen.text((width / 2, top + size), CAPTION, font=_font(size), fill="white", anchor="mm")
    if name:
        label = name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"
        pen.text(
            (width / 2, top + size * 2.4),
            label,
            font=_font(size * 0.7),
            fill=(230, 230, 230),
            anchor="mm",
        )


def _initials(name: str | None) -> str:
    words = [w for w in (name or "").split() if w[:1].isalpha()]
    if not words:
        return ""
    chosen = words[:1] + words[1:][-1:]
    return "".join(w[0] for w in chosen).upper()


def _font(size: float) -> _Font:
    # Loaded per drawing (about 60 µs): FreeType faces are not shared between threads.
    return ImageFont.load_default(size=max(1.0, size))


def _hsv(hue: float, saturation: float, value: float) -> _Colour:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _mix(a: _Colour, b: _Colour, amount: float) -> _Colour:
    red, green, blue = (round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))
    return red, green, blue


if TYPE_CHECKING:
    _conforms: type[ImageGenerator] = OfflineImageGenerator
