"""SqlUserRepository: users provisioned from the identity provider, tombstones included."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import ColumnElement, RowMapping, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.tables import insert_or_ignore, users
from mynth_core.ids import UserId
from mynth_core.users import User

if TYPE_CHECKING:
    from mynth_core.users import UserRepository


@attrs.frozen
class SqlUserRepository:
    """Users in `users`; a soft-deleted user keeps its row so it is never re-created."""

    conn: AsyncConnection

    async def get(self, user_id: UserId) -> User | None:
        with translate_db_errors():
            row = (
                (await self.conn.execute(select(users).where(users.c.id == user_id)))
                .mappings()
                .one_or_none()
            )
        return None if row is None else _user(row)

    async def add_if_absent(self, user: User) -> User:
        # A concurrent first sight waits on the primary key, then does nothing; both callers
        # read back the one stored row.
        with translate_db_errors():
            await self.conn.execute(insert_or_ignore(self.conn, users, _values(user), ["id"]))
            row = (
                (await self.conn.execute(select(users).where(users.c.id == user.id)))
                .mappings()
                .one()
            )
        return _user(row)

    async def soft_delete(self, user_id: UserId, *, at: datetime) -> None:
        stmt = (
            update(users)
            .where(users.c.id == user_id, users.c.deleted_at.is_(None))
            .values(deleted_at=at, updated_at=at)
        )
        with translate_db_errors():
            await self.conn.execute(stmt)

    async def upsert(self, user: User) -> User:
        # Insert, or else update only a live row whose stored profile is not newer: one
        # conditional UPDATE, so concurrent deliveries can never apply an older profile.
        changes = {
            "username": user.username,
            "display_name": user.display_name,
            "image_url": user.image_url,
            "updated_at": user.updated_at,
            "profile_updated_at": user.profile_updated_at,
        }
        apply = (
            update(users)
            .where(users.c.id == user.id, users.c.deleted_at.is_(None), _not_newer(user))
            .values(changes)
        )
        with translate_db_errors():
            await self.conn.execute(insert_or_ignore(self.conn, users, _values(user), ["id"]))
            await self.conn.execute(apply)
            row = (
                (await self.conn.execute(select(users).where(users.c.id == user.id)))
                .mappings()
                .one()
            )
        return _user(row)


def _not_newer(user: User) -> ColumnElement[bool]:
    """The stored profile is not newer than `user`'s."""
    stored = users.c.profile_updated_at
    if user.profile_updated_at is None:
        return stored.is_(None)
    return or_(stored.is_(None), stored <= user.profile_updated_at)


def _values(user: User) -> dict[str, Any]:
    return {field.name: getattr(user, field.name) for field in attrs.fields(User)}


def _user(row: RowMapping) -> User:
    return User(
        id=UserId(row["id"]),
        username=row["username"],
        display_name=row["display_name"],
        image_url=row["image_url"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
        profile_updated_at=row["profile_updated_at"],
    )


if TYPE_CHECKING:
    _conforms: type[UserRepository] = SqlUserRepository
