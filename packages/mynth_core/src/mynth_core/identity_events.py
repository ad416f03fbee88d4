"""User events from the identity provider (Clerk webhooks), as the core reads them."""

from __future__ import annotations

from datetime import datetime

import attrs

from mynth_core.ids import UserId


@attrs.frozen(kw_only=True)
class ClerkUserUpserted:
    """A `user.created` or `user.updated`: the user's public profile as of `updated_at`.

    Deliveries are unordered, so `updated_at` (the provider's clock) decides which of two
    profiles is newer. Names are stripped; empty ones are None.
    """

    user_id: UserId
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    updated_at: datetime

    @property
    def display_name(self) -> str | None:
        """First and last name when present, else the username (PRODUCT §3.5)."""
        full = " ".join(name for name in (self.first_name, self.last_name) if name)
        return full or self.username


@attrs.frozen
class ClerkUserDeleted:
    """A `user.deleted`: the user is gone for good (a tombstone stops resurrection)."""

    user_id: UserId


@attrs.frozen
class IgnoredClerkEvent:
    """A verified, well-formed event of a type mynth acknowledges and ignores."""

    type: str


ClerkEvent = ClerkUserUpserted | ClerkUserDeleted | IgnoredClerkEvent
