"""The pack catalogue: the packs of the price table, linked to a payment provider's products."""

from __future__ import annotations

from typing import NewType

import attrs

from mynth_core.pricing import DEFAULT_PACKS, Pack

PackId = NewType("PackId", str)  # pack_100, pack_500, ...


def _unique_ids(
    _instance: object,
    _attribute: attrs.Attribute[tuple[Pack, ...]],
    packs: tuple[Pack, ...],
) -> None:
    ids = [pack.id for pack in packs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"pack ids must be unique, got {ids}")


@attrs.frozen
class PackCatalogue:
    """The packs on sale and, per pack, the payment provider's product id (from configuration).

    A pack without a product id is listed but cannot be bought.
    """

    packs: tuple[Pack, ...] = attrs.field(default=DEFAULT_PACKS, validator=_unique_ids)
    products: tuple[tuple[PackId, str], ...] = ()  # (pack id, provider product id)

    def get(self, pack_id: str) -> Pack | None:
        """The pack called `pack_id`, if it is on sale."""
        return next((pack for pack in self.packs if pack.id == pack_id), None)

    def product_id(self, pack_id: str) -> str | None:
        """The provider's product id for `pack_id`, if one is configured."""
        return next((product for pid, product in self.products if pid == pack_id), None)

    def by_product(self, product_id: str) -> Pack | None:
        """The pack sold as the provider's `product_id`, if any."""
        pack_id = next((pid for pid, product in self.products if product == product_id), None)
        return None if pack_id is None else self.get(pack_id)
