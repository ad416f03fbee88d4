"""Users provisioned from the identity provider, and lazy provisioning."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Final, Protocol

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import AccountDeletedError
from mynth_core.identity import Principal
from mynth_core.ids import IdFactory, UserId
from mynth_core.ledger.services import DEFAULT_POLICY, LedgerPolicy, credit_welcome
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


RECENT_USERS_TTL: Final = timedelta(seconds=10)


@attrs.define
class RecentUsers:
    """Live users this process has read within `ttl`, so a request need not read its user row.

    Whoever deletes a user calls `forget`, so a deletion made through this process is seen at
    once; one made through another instance is seen within `ttl` (a session token stays
    valid for about a minute after Clerk revokes it anyway). Holds at most `capacity` users,
    dropping the least recently seen.
    """

    clock: Clock
    ttl: timedelta = RECENT_USERS_TTL
    capacity: int = 10_000
    _seen: OrderedDict[UserId, tuple[User, datetime]] = attrs.field(factory=OrderedDict)

    def get(self, user_id: UserId) -> User | None:
        entry = self._seen.get(user_id)
        if entry is None:
            return None
        user, expires = entry
        if self.clock.now() >= expires:
            del self._seen[user_id]
            return None
        self._seen.move_to_end(user_id)
        return user

    def remember(self, user: User) -> None:
        if user.deleted_at is not None:
            self.forget(user.id)
            return
        self._seen[user.id] = (user, self.clock.now() + self.ttl)
        self._seen.move_to_end(user.id)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def forget(self, user_id: UserId) -> None:
        self._seen.pop(user_id, None)


@attrs.frozen
class ProvisionUser:
    """Return the caller's user record, creating it on the first authenticated request.

    Creating a user credits the welcome grant in the same unit of work, once per user.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    recent: RecentUsers
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, who: Principal) -> User:
        """Look up or create the user behind `who`.

        Raises:
            AccountDeletedError: the user was deleted; their tokens no longer work.
        """
        if (known := self.recent.get(who.user_id)) is not None:
            return known
        async with self.uow(read_only=True) as uow:
            user = await uow.users.get(who.user_id)
        if user is None:  # first sight: write, once, even under concurrent first requests
            at = self.clock.now()
            async with self.uow() as uow:
                user = await uow.users.add_if_absent(
                    User(id=who.user_id, created_at=at, updated_at=at)
                )
                if user.deleted_at is None:  # the grant's key makes a concurrent twin a no-op
                    await credit_welcome(uow, user.id, at=at, policy=self.policy, ids=self.ids)
                await uow.commit()
        if user.deleted_at is not None:
            raise AccountDeletedError
        self.recent.remember(user)
        return user
