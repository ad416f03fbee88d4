"""Users provisioned from the identity provider: lazy provisioning and the Clerk webhook."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Final, Protocol

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import AccountDeletedError
from mynth_core.identity import Principal
from mynth_core.identity_events import ClerkUserDeleted, ClerkUserUpserted
from mynth_core.ids import IdFactory, UserId
from mynth_core.ledger.services import DEFAULT_POLICY, LedgerPolicy, credit_welcome
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory
from mynth_core.webhooks import CLERK, WebhookOutcome


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
    # The identity provider's `updated_at` of the profile stored here (None: never synced).
    # Webhooks arrive unordered; an older profile than this one is not applied.
    profile_updated_at: datetime | None = None


class UserRepository(Protocol):
    """**Port**: users, including soft-deleted ones (their tombstone stops resurrection).

    `add_if_absent` is idempotent under concurrency: of two concurrent first sights of one
    user exactly one row is written and both callers get the stored user back.
    """

    async def get(self, user_id: UserId) -> User | None: ...

    async def add_if_absent(self, user: User) -> User: ...

    async def soft_delete(self, user_id: UserId, *, at: datetime) -> None: ...

    async def upsert(self, user: User) -> User:
        """Store `user`, or apply its profile to the stored user; return the stored user.

        An existing user gets `username`, `display_name`, `image_url`, `updated_at` and
        `profile_updated_at` from `user` (never `created_at`), unless it is soft-deleted
        (a tombstone never changes) or its `profile_updated_at` is later than `user`'s.
        """


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


async def provision(
    uow: UnitOfWork, user_id: UserId, *, at: datetime, policy: LedgerPolicy, ids: IdFactory
) -> User:
    """The stored user; a first sight stores it and credits the welcome grant, once.

    Runs inside the caller's unit of work; the grant's key makes a concurrent twin a no-op.
    A soft-deleted user is returned as it is, without a grant.
    """
    if (known := await uow.users.get(user_id)) is not None:
        return known
    user = await uow.users.add_if_absent(User(id=user_id, created_at=at, updated_at=at))
    if user.deleted_at is None:
        await credit_welcome(uow, user.id, at=at, policy=policy, ids=ids)
    return user


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
            async with self.uow() as uow:
                user = await provision(
                    uow, who.user_id, at=self.clock.now(), policy=self.policy, ids=self.ids
                )
                await uow.commit()
        if user.deleted_at is not None:
            raise AccountDeletedError
        self.recent.remember(user)
        return user


@attrs.frozen
class SyncClerkUser:
    """Apply a Clerk `user.created`/`user.updated` delivery (PRODUCT §3.5, PROVIDERS §3.6).

    Upserts the profile; the first sight of a user credits the welcome grant once. The
    delivery id is remembered in the same unit of work as the change.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    recent: RecentUsers
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, delivery_id: str, event: ClerkUserUpserted) -> WebhookOutcome:
        """Upsert the user; `ignored` for a deleted user or a profile older than the stored one.

        Returns `duplicate` for a delivery id already processed. Ignored deliveries are not
        remembered (nothing is committed).
        """
        at = self.clock.now()
        async with self.uow() as uow:
            if not await uow.deliveries.record(CLERK, delivery_id, at=at):
                return WebhookOutcome.DUPLICATE
            before = await uow.users.get(event.user_id)
            if before is not None and not _applies(event, before):
                return WebhookOutcome.IGNORED
            user = await uow.users.upsert(_profile(event, at=at))
            if before is None and user.deleted_at is None:
                await credit_welcome(uow, user.id, at=at, policy=self.policy, ids=self.ids)
            await uow.commit()
        self.recent.forget(event.user_id)  # the next request reads the new profile
        return WebhookOutcome.PROCESSED


def _applies(event: ClerkUserUpserted, stored: User) -> bool:
    if stored.deleted_at is not None:  # no resurrection
        return False
    return stored.profile_updated_at is None or stored.profile_updated_at <= event.updated_at


def _profile(event: ClerkUserUpserted, *, at: datetime) -> User:
    return User(
        id=event.user_id,
        username=event.username,
        display_name=event.display_name,
        image_url=event.image_url,
        created_at=at,
        updated_at=at,
        profile_updated_at=event.updated_at,
    )


@attrs.frozen
class DeleteUser:
    """Apply a Clerk `user.deleted` delivery: soft-delete the user, unpublish their personas.

    A user never seen before gets a tombstone, so a late `user.created` cannot create it.
    Ledger entries are kept. The process's cache forgets the user at once.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    recent: RecentUsers

    async def __call__(self, delivery_id: str, event: ClerkUserDeleted) -> WebhookOutcome:
        """Delete the user; `duplicate` for a delivery id already processed."""
        at = self.clock.now()
        async with self.uow() as uow:
            if not await uow.deliveries.record(CLERK, delivery_id, at=at):
                return WebhookOutcome.DUPLICATE
            tombstone = User(id=event.user_id, created_at=at, updated_at=at, deleted_at=at)
            await uow.users.add_if_absent(tombstone)
            await uow.users.soft_delete(event.user_id, at=at)
            await uow.personas.unpublish_all(event.user_id, at=at)
            await uow.commit()
        self.recent.forget(event.user_id)
        return WebhookOutcome.PROCESSED
