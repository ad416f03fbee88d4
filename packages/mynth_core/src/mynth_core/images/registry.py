"""The unified image-model registry (PRODUCT.md §7.1) *(config)*; prices live in the PriceTable.

Unified ids map to provider model ids (Runware AIR ids) with each model's sizes, steps and
call timeout. Each tier resolves to a registered model; `offline/image` is reserved for the
offline renderer of the embedded default.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from mynth_core.errors import UnknownModelError, ValidationError
from mynth_core.pricing import ImageTier

OFFLINE_IMAGE_MODEL: Final = "offline/image"
NOTE_LIMIT: Final = 500
PROMPT_LIMIT: Final = 3000


class Style(enum.StrEnum):
    """How the image should look (§7.2)."""

    AUTO = "auto"
    REALISTIC = "realistic"
    ANIME = "anime"
    CINEMATIC = "cinematic"


class Shot(enum.StrEnum):
    """How much of the character is in frame."""

    PORTRAIT = "portrait"
    FULL_BODY = "full_body"


@attrs.frozen(kw_only=True)
class ImageModel:
    """One registered image model and how mynth calls it."""

    id: str
    display_name: str
    provider: str
    provider_model: str
    width: int
    height: int
    steps: int | None = None
    cfg_scale: float | None = None
    timeout: float = 60.0
    nsfw_capable: bool = True
    enabled: bool = True
    deprecated: bool = False
    fixed_sizes: tuple[tuple[int, int], ...] = ()

    def __attrs_post_init__(self) -> None:
        if not self.fixed_sizes:
            for side in (self.width, self.height):
                if not (128 <= side <= 2048 and side % 64 == 0):  # noqa: PLR2004 - §7.1 rule
                    msg = f"{self.id}: sizes are multiples of 64 within 128-2048"
                    raise ValueError(msg)

    @property
    def usable(self) -> bool:
        return self.enabled and not self.deprecated


ULTRA_SIZES: Final = (
    (2048, 2048),
    (1664, 2496),
    (1792, 2368),
    (1536, 2752),
    (1344, 3136),
    (2496, 1664),
    (2368, 1792),
    (2752, 1536),
    (3136, 1344),
)
DEFAULT_IMAGE_MODELS: Final = (
    ImageModel(
        id="black-forest-labs/flux-schnell",
        display_name="FLUX Schnell",
        provider="runware",
        provider_model="runware:100@1",
        width=512,
        height=512,
        steps=4,
    ),
    ImageModel(
        id="black-forest-labs/flux-dev",
        display_name="FLUX Dev",
        provider="runware",
        provider_model="runware:101@1",
        width=896,
        height=1152,
        steps=28,
        cfg_scale=3.5,
    ),
    ImageModel(
        id="black-forest-labs/flux-1-pro",
        display_name="FLUX.1 Pro",
        provider="runware",
        provider_model="bfl:1@1",
        width=896,
        height=1152,
        timeout=90.0,
    ),
    ImageModel(
        id="bytedance/seedream-3",
        display_name="SeeDream 3.0",
        provider="runware",
        provider_model="bytedance:3@1",
        width=896,
        height=1152,
        nsfw_capable=False,
    ),
    ImageModel(
        id="black-forest-labs/flux-1.1-pro-ultra",
        display_name="FLUX1.1 Pro Ultra",
        provider="runware",
        provider_model="bfl:2@2",
        width=1664,
        height=2496,
        timeout=90.0,
        fixed_sizes=ULTRA_SIZES,
    ),
)
DEFAULT_TIERS: Final = (
    (ImageTier.LOW, "black-forest-labs/flux-schnell"),
    (ImageTier.MEDIUM, "black-forest-labs/flux-dev"),
    (ImageTier.HIGH, "black-forest-labs/flux-1-pro"),
)


@attrs.frozen(kw_only=True)
class ImageOptions:
    """What a caller asks for (§7.2); `check` applies the tier rules."""

    quality: ImageTier = ImageTier.MEDIUM
    model: str | None = None
    style: Style = Style.AUTO
    shot: Shot = Shot.FULL_BODY
    nsfw: bool = False
    note: str | None = None

    def check(self) -> ImageOptions:
        """The options with the low tier's rules applied (style, shot, note ignored; no NSFW).

        Raises:
            ValidationError: a note over 500 characters or with NUL.
        """
        if self.note is not None and (len(self.note) > NOTE_LIMIT or "\x00" in self.note):
            raise ValidationError.single("note", f"must be at most {NOTE_LIMIT} characters")
        if self.quality is ImageTier.LOW and self.model is None:
            return attrs.evolve(self, style=Style.AUTO, shot=Shot.FULL_BODY, nsfw=False, note=None)
        return self


@attrs.frozen
class ImageRegistry:
    """The registered image models and the model behind each tier."""

    models: tuple[ImageModel, ...] = DEFAULT_IMAGE_MODELS
    tiers: tuple[tuple[ImageTier, str], ...] = DEFAULT_TIERS

    def __attrs_post_init__(self) -> None:
        ids = [m.id for m in self.models]
        if len(ids) != len(set(ids)) or any(i.startswith("offline/") for i in ids):
            msg = "image model ids must be unique and must not use the offline/ prefix"
            raise ValueError(msg)
        if any(model not in ids for _, model in self.tiers):
            msg = "every tier must resolve to a registered model"
            raise ValueError(msg)

    def get(self, model_id: str) -> ImageModel:
        """A usable registered model.

        Raises:
            UnknownModelError: unknown, disabled or deprecated.
        """
        for model in self.models:
            if model.id == model_id and model.usable:
                return model
        raise UnknownModelError(model_id)

    def resolve(self, options: ImageOptions) -> ImageModel:
        """The model a request runs on: the explicit one, else the tier's.

        Raises:
            UnknownModelError: an explicit model that is not usable.
            ValidationError: NSFW asked of a model that cannot do it (field `nsfw`).
        """
        model = (
            self.get(options.model)
            if options.model
            else self.get(dict(self.tiers)[options.quality])
        )
        if options.nsfw and not model.nsfw_capable:
            raise ValidationError.single("nsfw", f"{model.display_name} cannot make NSFW images")
        return model
