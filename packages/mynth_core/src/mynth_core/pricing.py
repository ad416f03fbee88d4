"""The one pricing table: what each operation costs and which token packs are for sale."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, TypeVar

import attrs

from mynth_core.errors import ValidationError
from mynth_core.ledger.model import TokenAmount

V = TypeVar("V")


class Operation(StrEnum):
    """A priced operation; the value is the ledger entry's `operation` (§8.6)."""

    PERSONA_GENERATE = "persona_generate"
    PERSONA_ENHANCE = "persona_enhance"
    PROPERTY_ACTION = "property_action"
    PERSONA_CREATE_MANUAL = "persona_create_manual"
    PERSONA_CLONE = "persona_clone"
    PERSONA_PUBLISH = "persona_publish"
    PERSONA_IMPORT = "persona_import"
    IMAGE_GENERATE = "image_generate"
    CHAT_REPLY = "chat_reply"


class ImageTier(StrEnum):
    """An image quality tier; each resolves to a registered model (§7.1)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ChatMode(StrEnum):
    """A chat's mode, which selects the per-reply price (§6.11)."""

    ROLEPLAY = "roleplay"
    STORY = "story"


@attrs.frozen
class Price:
    """An amount of money in the currency's minor unit."""

    amount_cents: int
    currency: str = "USD"


@attrs.frozen
class Pack:
    """A token pack for sale (§8.7); its Polar product id comes from configuration."""

    id: str
    tokens: TokenAmount
    price: Price


@attrs.frozen
class ChatPrice:
    """A chat model's per-reply cost in each mode (§6.11)."""

    roleplay: TokenAmount
    story: TokenAmount

    def for_mode(self, mode: ChatMode) -> TokenAmount:
        return self.roleplay if mode is ChatMode.ROLEPLAY else self.story


def _t(value: int) -> TokenAmount:
    return TokenAmount(value)


DEFAULT_CHAT_MODEL: Final = "x-ai/grok-4-fast"
DEFAULT_OPERATIONS: Final = (
    (Operation.PERSONA_GENERATE, _t(1)),
    (Operation.PERSONA_ENHANCE, _t(1)),
    (Operation.PROPERTY_ACTION, _t(0)),
    (Operation.PERSONA_CREATE_MANUAL, _t(0)),
    (Operation.PERSONA_CLONE, _t(0)),
    (Operation.PERSONA_PUBLISH, _t(0)),
    (Operation.PERSONA_IMPORT, _t(0)),
)
DEFAULT_IMAGE_TIERS: Final = (
    (ImageTier.LOW, _t(1)),
    (ImageTier.MEDIUM, _t(3)),
    (ImageTier.HIGH, _t(5)),
)
DEFAULT_IMAGE_MODELS: Final = (
    ("black-forest-labs/flux-schnell", _t(1)),
    ("black-forest-labs/flux-dev", _t(3)),
    ("black-forest-labs/flux-1-pro", _t(5)),
    ("bytedance/seedream-3", _t(5)),
    ("black-forest-labs/flux-1.1-pro-ultra", _t(6)),
)
DEFAULT_CHAT_MODELS: Final = (
    (DEFAULT_CHAT_MODEL, ChatPrice(_t(1), _t(2))),
    ("cognitivecomputations/dolphin-mistral-24b-venice-edition", ChatPrice(_t(0), _t(0))),
    ("thedrummer/cydonia-24b-v4.1", ChatPrice(_t(1), _t(2))),
    ("meta-llama/llama-3.3-70b-instruct", ChatPrice(_t(1), _t(2))),
    ("z-ai/glm-4.5-air", ChatPrice(_t(1), _t(2))),
    ("nousresearch/hermes-3-llama-3.1-405b", ChatPrice(_t(3), _t(5))),
)
DEFAULT_PACKS: Final = (
    Pack("pack_100", _t(100), Price(149)),
    Pack("pack_500", _t(500), Price(699)),
    Pack("pack_1000", _t(1000), Price(999)),
)


@attrs.frozen(kw_only=True)
class PriceTable:
    """Every price in one place (§8.6-8.7); construct it differently to override.

    Maps are stored as pairs; the accessors below are the only way to read them.
    """

    operations: tuple[tuple[Operation, TokenAmount], ...] = DEFAULT_OPERATIONS
    image_tiers: tuple[tuple[ImageTier, TokenAmount], ...] = DEFAULT_IMAGE_TIERS
    image_models: tuple[tuple[str, TokenAmount], ...] = DEFAULT_IMAGE_MODELS
    chat_models: tuple[tuple[str, ChatPrice], ...] = DEFAULT_CHAT_MODELS
    default_chat_model: str = DEFAULT_CHAT_MODEL
    packs: tuple[Pack, ...] = DEFAULT_PACKS

    def cost_of(self, operation: Operation, *, signed_in: bool = True) -> TokenAmount:
        """The flat cost of an operation; anonymous persona generation is free (§8.6).

        Image and chat costs depend on more than the operation: use `image_cost` and
        `chat_cost`.
        """
        if operation is Operation.PERSONA_GENERATE and not signed_in:
            return TokenAmount(0)
        for known, cost in self.operations:
            if known is operation:
                return cost
        msg = f"{operation} has no flat price; use image_cost or chat_cost"
        raise KeyError(msg)

    def image_cost(self, tier: ImageTier, model: str | None = None) -> TokenAmount:
        """A tier's cost, or an explicitly chosen model's own cost.

        Raises:
            ValidationError: `model` is not a priced image model (field `model`).
        """
        if model is not None:
            return _lookup(self.image_models, model, "model", "is not a known image model")
        return dict(self.image_tiers)[tier]

    def chat_cost(self, model: str | None, mode: ChatMode) -> TokenAmount:
        """A chat reply's cost for `model` (default model when None) in `mode`.

        Raises:
            ValidationError: `model` is not in the catalogue (field `model`).
        """
        chosen = model or self.default_chat_model
        price = _lookup(self.chat_models, chosen, "model", "is not a known chat model")
        return price.for_mode(mode)

    def pack(self, pack_id: str) -> Pack:
        """The pack called `pack_id`.

        Raises:
            ValidationError: no such pack (field `pack_id`).
        """
        pairs = tuple((p.id, p) for p in self.packs)
        return _lookup(pairs, pack_id, "pack_id", "is not a known pack")


def _lookup(pairs: tuple[tuple[str, V], ...], key: str, field: str, message: str) -> V:
    for known, value in pairs:
        if known == key:
            return value
    raise ValidationError.single(field, message)
