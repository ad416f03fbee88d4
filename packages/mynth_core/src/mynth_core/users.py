"""Users provisioned from the identity provider, and lazy provisioning."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import AccountDeletedError
from mynth_core.identity import Principal
from mynth_core.ids import UserId
from mynth_core.uow import UnitOfWorkFactory


@attrs.frozen(kw_only=True)
class User:
    """A person known to Mynth; `id` is the identity provider's user id. No email is kept."""

    id: UserId
    username: str | None = None
    display_name: str | None = None
    image_url: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class UserRepository(Protocol):
    """**Port**: users, including soft-deleted ones (their tombstone stops resurrection).

    `add_if_absent` is idempotent under concurrency: of two concurrent first sights of one
    user exactly one row is written and both callers get the stored user back.
    """

    async def get(self, user_id: UserId) -> User | None: ...

    async def add_if_absent(self, user: User) -> User: ...

    async def soft_delete(self, user_id: UserId, *, at: datetime) -> None: ...


@attrs.frozen
class ProvisionUser:
    """Return the caller's user record, creating it on the first authenticated request."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal) -> User:
        """Look up or create the user behind `who`.

        Raises:
            AccountDeletedError: the user was deleted; their tokens no longer work.
        """
        async with self.uow(read_only=True) as uow:
            user = await uow.users.get(who.user_id)
        if user is None:  # first sight: write, once, even under concurrent first requests
            at = self.clock.now()
            async with self.uow() as uow:
                user = await uow.users.add_if_absent(
                    User(id=who.user_id, created_at=at, updated_at=at)
                )
                await uow.commit()
        if user.deleted_at is not None:
            raise AccountDeletedError
        return user
