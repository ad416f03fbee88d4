"""SqlChatRepository: chats, their message trees, rolling summaries and the generation slot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from cattrs.preconf.json import JsonConverter
from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    and_,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.converters import persistence_converter
from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.personas import _decode_persona_cursor
from mynth_adapters.sql.tables import (
    chat_messages,
    chat_summaries,
    chats,
    upsert,
    version_roleplay_summaries,
)
from mynth_core.chats.model import (
    Chapter,
    Chat,
    ChatSettings,
    Lease,
    Message,
    Pin,
    ReplyKind,
    Role,
)
from mynth_core.chats.ports import RollingSummary, Siblings
from mynth_core.errors import NotFoundError
from mynth_core.generation.ports import Usage
from mynth_core.ids import ChatId, MessageId, PersonaId, UserId, VersionId
from mynth_core.pagination import Page, PageRequest, encode_cursor
from mynth_core.pricing import ChatMode

if TYPE_CHECKING:
    from mynth_core.chats.ports import ChatRepository

_C = chats.c
_M = chat_messages.c
_S = chat_summaries.c


@attrs.frozen
class SqlChatRepository:
    """Chats in `chats`, messages in `chat_messages`, summaries beside them.

    The generation slot is two columns of the chat row, taken by one conditional `UPDATE`
    (Postgres re-checks the condition on a row another claim just changed; SQLite's
    `BEGIN IMMEDIATE` serialises writers), so of two concurrent claims one wins.
    """

    conn: AsyncConnection
    converter: JsonConverter = attrs.field(factory=persistence_converter, repr=False)

    async def get(self, chat_id: ChatId, *, owner: UserId) -> Chat:
        stmt = select(chats).where(_C.id == chat_id, _C.owner_id == owner)
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("chat", chat_id)
        return self._chat(row)

    async def add(self, chat: Chat) -> None:
        lease = chat.generation
        values = {
            **self._chat_values(chat),
            "generation_id": None if lease is None else lease.id,
            "generation_expires_at": None if lease is None else lease.expires_at,
        }
        with translate_db_errors():
            await self.conn.execute(insert(chats).values(values))

    async def save(self, chat: Chat) -> None:
        values = self._chat_values(chat)
        for immutable in ("id", "owner_id", "created_at"):
            del values[immutable]
        stmt = update(chats).where(_C.id == chat.id).values(values)
        with translate_db_errors():
            result = await self.conn.execute(stmt)
        if result.rowcount == 0:
            raise NotFoundError("chat", chat.id)

    async def delete(self, chat_id: ChatId) -> None:
        with translate_db_errors():
            await self.conn.execute(delete(chat_summaries).where(_S.chat_id == chat_id))
            # One statement: the parent links among the deleted rows are checked at its end.
            await self.conn.execute(delete(chat_messages).where(_M.chat_id == chat_id))
            await self.conn.execute(delete(chats).where(_C.id == chat_id))

    async def list_owned(
        self,
        owner: UserId,
        *,
        query: str | None,
        persona_id: PersonaId | None,
        page: PageRequest,
    ) -> Page[Chat]:
        stmt = select(chats).where(_C.owner_id == owner)
        if query:
            stmt = stmt.where(func.lower(_C.title).contains(query.lower(), autoescape=True))
        if persona_id is not None:
            stmt = stmt.where(_C.persona_id == persona_id)
        if page.cursor is not None:
            stmt = stmt.where(_after(*_decode_persona_cursor(page.cursor)))
        stmt = stmt.order_by(_C.updated_at.desc(), _C.id.desc()).limit(page.limit + 1)
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        items = tuple(self._chat(row) for row in rows[: page.limit])
        last = items[-1] if len(rows) > page.limit else None
        cursor = encode_cursor(last.updated_at.isoformat(), last.id) if last else None
        return Page(items, cursor)

    async def claim_generation(self, chat_id: ChatId, lease: Lease, *, at: datetime) -> bool:
        stmt = (
            update(chats)
            .where(
                _C.id == chat_id,
                or_(_C.generation_id.is_(None), _C.generation_expires_at <= at),
            )
            .values(generation_id=lease.id, generation_expires_at=lease.expires_at)
        )
        with translate_db_errors():
            result = await self.conn.execute(stmt)
        return result.rowcount == 1

    async def release_generation(self, chat_id: ChatId, lease_id: str) -> None:
        stmt = (
            update(chats)
            .where(_C.id == chat_id, _C.generation_id == lease_id)
            .values(generation_id=None, generation_expires_at=None)
        )
        with translate_db_errors():
            await self.conn.execute(stmt)

    async def expired_generations(self, *, before: datetime, limit: int) -> Sequence[Chat]:
        stmt = (
            select(chats)
            .where(_C.generation_id.is_not(None), _C.generation_expires_at < before)
            .order_by(_C.generation_expires_at, _C.id)
            .limit(limit)
        )
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        return tuple(self._chat(row) for row in rows)

    async def add_message(self, message: Message) -> None:
        with translate_db_errors():
            await self.conn.execute(insert(chat_messages).values(_message_values(message)))

    async def message(self, chat_id: ChatId, message_id: MessageId) -> Message:
        stmt = select(chat_messages).where(_M.chat_id == chat_id, _M.id == message_id)
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("message", message_id)
        return _message(row)

    async def path(self, chat_id: ChatId, leaf_id: MessageId, *, limit: int) -> tuple[Message, ...]:
        if limit < 1:
            return ()
        with translate_db_errors():
            rows = (await self.conn.execute(_path(chat_id, leaf_id, limit))).mappings().all()
        if not rows:
            raise NotFoundError("message", leaf_id)
        return tuple(_message(row) for row in rows)

    async def children(self, chat_id: ChatId, parent_id: MessageId | None) -> tuple[Message, ...]:
        parent = _M.parent_id.is_(None) if parent_id is None else _M.parent_id == parent_id
        stmt = (
            select(chat_messages)
            .where(_M.chat_id == chat_id, parent)
            .order_by(_M.created_at, _M.id)
        )
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        return tuple(_message(row) for row in rows)

    async def newest_leaf(self, chat_id: ChatId, message_id: MessageId) -> MessageId:
        with translate_db_errors():
            leaf = (await self.conn.execute(_newest_leaf(chat_id, message_id))).scalar()
        if leaf is None:
            raise NotFoundError("message", message_id)
        return MessageId(leaf)

    async def siblings(
        self, chat_id: ChatId, messages: Sequence[Message]
    ) -> Mapping[MessageId, Siblings]:
        if not messages:
            return {}
        parents = {m.parent_id for m in messages if m.parent_id is not None}
        wanted: list[ColumnElement[bool]] = []
        if parents:
            wanted.append(_M.parent_id.in_(sorted(parents)))
        if any(m.parent_id is None for m in messages):
            wanted.append(_M.parent_id.is_(None))
        # Every child of the parents involved, numbered within its parent (NULLs, the roots,
        # form one partition); only the rows asked about come back.
        kids = (
            select(
                _M.id,
                func.count().over(partition_by=_M.parent_id).label("count"),
                func.row_number()
                .over(partition_by=_M.parent_id, order_by=(_M.created_at, _M.id))
                .label("position"),
            )
            .where(_M.chat_id == chat_id, or_(*wanted))
            .subquery("kids")
        )
        stmt = select(kids).where(kids.c.id.in_([m.id for m in messages]))
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        return {
            MessageId(row["id"]): Siblings(count=row["count"], index=row["position"] - 1)
            for row in rows
        }

    async def summary_on(self, chat_id: ChatId, path: Sequence[MessageId]) -> RollingSummary | None:
        if not path:
            return None
        stmt = select(chat_summaries).where(_S.chat_id == chat_id, _S.anchor_id.in_(set(path)))
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        found = {row["anchor_id"]: row for row in rows}
        for anchor_id in reversed(path):
            if (row := found.get(anchor_id)) is not None:
                return RollingSummary(
                    chat_id=ChatId(row["chat_id"]),
                    anchor_id=MessageId(row["anchor_id"]),
                    text=row["text"],
                    created_at=row["created_at"],
                )
        return None

    async def add_summary(self, summary: RollingSummary) -> None:
        values = {
            "chat_id": summary.chat_id,
            "anchor_id": summary.anchor_id,
            "text": summary.text,
            "created_at": summary.created_at,
        }
        with translate_db_errors():
            await self.conn.execute(
                upsert(self.conn, chat_summaries, values, ["chat_id", "anchor_id"])
            )

    async def roleplay_summary(self, version_id: VersionId) -> str | None:
        stmt = select(version_roleplay_summaries.c.summary).where(
            version_roleplay_summaries.c.version_id == version_id
        )
        with translate_db_errors():
            summary: str | None = (await self.conn.execute(stmt)).scalar()
        return summary

    async def save_roleplay_summary(self, version_id: VersionId, summary: str) -> None:
        values = {"version_id": version_id, "summary": summary}
        with translate_db_errors():
            await self.conn.execute(
                upsert(self.conn, version_roleplay_summaries, values, ["version_id"])
            )

    def _chat_values(self, chat: Chat) -> dict[str, Any]:
        return {
            "id": chat.id,
            "owner_id": chat.owner_id,
            "persona_id": chat.pin.persona_id,
            "version_id": chat.pin.version_id,
            "version_number": chat.pin.version_number,
            "persona_name": chat.pin.name,
            "title": chat.title,
            "mode": chat.mode.value,
            "settings": self.converter.unstructure(chat.settings),
            "leaf_id": chat.leaf_id,
            "created_at": chat.created_at,
            "updated_at": chat.updated_at,
        }

    def _chat(self, row: RowMapping) -> Chat:
        lease = None
        if row["generation_id"] is not None:
            lease = Lease(row["generation_id"], row["generation_expires_at"])
        leaf_id = row["leaf_id"]
        return Chat(
            id=ChatId(row["id"]),
            owner_id=UserId(row["owner_id"]),
            title=row["title"],
            mode=ChatMode(row["mode"]),
            pin=Pin(
                PersonaId(row["persona_id"]),
                VersionId(row["version_id"]),
                row["version_number"],
                row["persona_name"],
            ),
            settings=self.converter.structure(row["settings"], ChatSettings),
            leaf_id=None if leaf_id is None else MessageId(leaf_id),
            generation=lease,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def _after(at: datetime, last_id: str) -> ColumnElement[bool]:
    """Rows after (`at`, `last_id`) in (updated_at desc, id desc) order."""
    return or_(_C.updated_at < at, and_(_C.updated_at == at, _C.id < last_id))


def _path(chat_id: ChatId, leaf_id: MessageId, limit: int) -> Select[Any]:
    """The last `limit` messages root → `leaf_id`, oldest first, reading only those rows.

    `WITH RECURSIVE up(id, parent_id, depth)` starts at the leaf (depth 1) and follows
    `parent_id` by primary key while `depth < limit`, so it stops after `limit` rows however
    long the chat is.
    """
    up = (
        select(_M.id, _M.parent_id, literal_column("1").label("depth"))
        .where(_M.chat_id == chat_id, _M.id == leaf_id)
        .cte("up", recursive=True)
    )
    parent = chat_messages.alias("step")
    up = up.union_all(
        # By primary key only: an extra `chat_id` test here lets a planner without
        # statistics (a fresh Postgres) join against the whole chat at every step.
        select(parent.c.id, parent.c.parent_id, up.c.depth + 1).where(
            parent.c.id == up.c.parent_id, up.c.depth < limit
        )
    )
    return (
        select(chat_messages)
        .join(up, _M.id == up.c.id)
        .where(_M.chat_id == chat_id)
        .order_by(up.c.depth.desc())
    )


def _newest_leaf(chat_id: ChatId, message_id: MessageId) -> Select[Any]:
    """The leaf under `message_id` reached by always taking the newest child, in one query.

    `down(id, depth)` steps to the newest child of the previous row (a correlated scalar
    subquery on the children index); it ends on the first row without a child (NULL).
    """
    down = (
        select(_M.id, literal_column("0").label("depth"))
        .where(_M.chat_id == chat_id, _M.id == message_id)
        .cte("down", recursive=True)
    )
    child = chat_messages.alias("child")
    newest = (
        select(child.c.id)
        .where(child.c.chat_id == chat_id, child.c.parent_id == down.c.id)
        .order_by(child.c.created_at.desc(), child.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    down = down.union_all(select(newest, down.c.depth + 1).where(down.c.id.is_not(None)))
    return select(down.c.id).where(down.c.id.is_not(None)).order_by(down.c.depth.desc()).limit(1)


def _message_values(message: Message) -> dict[str, Any]:
    usage, chapter = message.usage, message.chapter
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "parent_id": message.parent_id,
        "role": message.role.value,
        "content": message.content,
        "created_at": message.created_at,
        "kind": None if message.kind is None else message.kind.value,
        "mode": None if message.mode is None else message.mode.value,
        "persona_version_id": message.persona_version_id,
        "model": message.model,
        "prompt_tokens": None if usage is None else usage.prompt_tokens,
        "completion_tokens": None if usage is None else usage.completion_tokens,
        "cost": message.cost,
        "chapter_number": None if chapter is None else chapter.number,
        "chapter_title": None if chapter is None else chapter.title,
    }


def _message(row: RowMapping) -> Message:
    usage = None
    if row["prompt_tokens"] is not None:
        usage = Usage(
            prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"]
        )
    chapter = None
    if row["chapter_number"] is not None:
        chapter = Chapter(row["chapter_number"], row["chapter_title"])
    parent_id, version_id = row["parent_id"], row["persona_version_id"]
    return Message(
        id=MessageId(row["id"]),
        chat_id=ChatId(row["chat_id"]),
        parent_id=None if parent_id is None else MessageId(parent_id),
        role=Role(row["role"]),
        content=row["content"],
        created_at=row["created_at"],
        kind=None if row["kind"] is None else ReplyKind(row["kind"]),
        mode=None if row["mode"] is None else ChatMode(row["mode"]),
        persona_version_id=None if version_id is None else VersionId(version_id),
        model=row["model"],
        usage=usage,
        cost=row["cost"],
        chapter=chapter,
    )


if TYPE_CHECKING:
    _conforms: type[ChatRepository] = SqlChatRepository
