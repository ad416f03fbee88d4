"""Image prompt crafting (PRODUCT.md §7.3): the LLM spec and the deterministic fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

import attrs

from mynth_core.images.registry import PROMPT_LIMIT, ImageOptions, Shot, Style
from mynth_core.personas.fields import PersonaData

STYLE_PHRASES: Final = {
    Style.AUTO: "",
    Style.REALISTIC: "photorealistic photograph, natural light",
    Style.ANIME: "anime illustration, clean line art, vivid colours",
    Style.CINEMATIC: "cinematic film still, dramatic lighting, shallow depth of field",
}
SHOT_PHRASES: Final = {
    Shot.PORTRAIT: "head-and-shoulders portrait at eye level",
    Shot.FULL_BODY: "full-body shot showing the whole figure",
}


@attrs.frozen(kw_only=True)
class ImagePromptSpec:
    """Ask a text model to write one text-to-image prompt paragraph for `target`."""

    template: ClassVar[str] = "image_prompt"
    data: PersonaData
    options: ImageOptions
    target: str

    def variables(self) -> Mapping[str, object]:
        return {
            "target": self.target,
            "name": self.data.name,
            "age": self.data.age,
            "gender": self.data.gender,
            "summary": self.data.summary,
            "appearance": self.data.appearance,
            "style": self.options.style.value,
            "shot": self.options.shot.value,
            "nsfw": self.options.nsfw,
            "note": self.options.note,
        }


def fallback_prompt(data: PersonaData, options: ImageOptions) -> str:
    """Appearance + style phrase + shot phrase: used when crafting fails."""
    parts = [data.appearance, STYLE_PHRASES[options.style], SHOT_PHRASES[options.shot]]
    return ", ".join(p for p in parts if p)[:PROMPT_LIMIT]
