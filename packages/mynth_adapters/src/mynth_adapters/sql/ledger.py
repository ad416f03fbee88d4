"""SqlTokenLedger: append-only `ledger_entries` plus one locked balance row per user."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import (
    ColumnElement,
    Date,
    RowMapping,
    bindparam,
    case,
    exists,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.tables import (
    UtcDateTime,
    insert_or_ignore,
    ledger_entries,
    persona_versions,
    token_accounts,
)
from mynth_core.clock import utc_day
from mynth_core.errors import ConflictError, ValidationError
from mynth_core.ids import UserId
from mynth_core.ledger.model import Account, EntryKind, LedgerEntry, LedgerEntryId, Reference
from mynth_core.pagination import Page, PageRequest, decode_cursor, encode_cursor
from mynth_core.personas.writer import VERSION_REFERENCE

if TYPE_CHECKING:
    from mynth_core.ledger.ports import TokenLedger

_STALE = "the entry does not follow from the stored balance; compute it under the lock"
_E = ledger_entries.c
_A = token_accounts.c

# Built once: a charge runs these on every call, and building a statement costs client CPU.
_READ = select(token_accounts).where(_A.user_id == bindparam("user"))
_LOCK = _READ.with_for_update()
_FIND = select(ledger_entries).where(_E.idempotency_key == bindparam("key"))
_ENTRY_COLUMNS = tuple(c.name for c in ledger_entries.c if c.name != "seq")
_REFUNDS = ledger_entries.alias("refunds")
_V = persona_versions.c


def _pg_append(free_guard: str) -> Any:  # noqa: ANN401 - SQLAlchemy's TextClause generics
    """Postgres: the entry insert and the guarded balance update in one round trip.

    The update runs only if the insert stored a row (a replayed key changes nothing) and
    only if the row still holds what the entry started from, exactly like `_move_balance`.
    """
    columns = ", ".join(_ENTRY_COLUMNS)
    values = ", ".join(f":{name}" for name in _ENTRY_COLUMNS)
    sql = f"""
        WITH ins AS (
            INSERT INTO ledger_entries ({columns}) VALUES ({values})
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING seq
        ), moved AS (
            UPDATE token_accounts SET
                free_day = CASE WHEN free_day > :day THEN free_day ELSE :day END,
                free_remaining = :free_remaining_after,
                purchased = :purchased_after,
                revision = revision + 1
            WHERE user_id = :user_id
                AND EXISTS (SELECT FROM ins)
                AND purchased + :purchased_part = :purchased_after
                AND {free_guard}
            RETURNING user_id
        )
        SELECT EXISTS (SELECT FROM ins) AS inserted, EXISTS (SELECT FROM moved) AS moved
    """  # noqa: S608 - column names from the table definition, values all bound
    return text(sql).bindparams(
        bindparam("created_at", type_=UtcDateTime), bindparam("day", type_=Date)
    )


# Never move back a day another instance's clock already opened; a `daily_free` entry
# opens a day that is not open yet, any other entry starts from the day's free tokens.
_PG_APPEND_DAILY_FREE = _pg_append("(free_day IS NULL OR free_day < :day)")
_PG_APPEND = _pg_append(
    "CASE WHEN free_day >= :day THEN free_remaining ELSE 0 END + :free_part = :free_remaining_after"
)


@attrs.frozen
class SqlTokenLedger:
    """The ledger of one transaction.

    `account(for_update=True)` takes the user's balance row with `SELECT ... FOR UPDATE`
    (SQLite's `BEGIN IMMEDIATE` already serialises writers), so a writer's read, the entry
    insert and the balance update form one step (on Postgres one statement, which moves the
    balance only if the entry's key was free). The balance update is also guarded by the
    values the entry was computed from, so a stale entry can never overwrite a change.
    """

    conn: AsyncConnection

    async def account(self, user: UserId, *, for_update: bool = False) -> Account:
        stmt = _LOCK if for_update else _READ
        params = {"user": user}
        with translate_db_errors():
            row = (await self.conn.execute(stmt, params)).mappings().one_or_none()
            if row is None and for_update:  # the first write of a user creates the row to lock
                empty = {"user_id": user, "free_remaining": 0, "purchased": 0, "revision": 0}
                await self.conn.execute(
                    insert_or_ignore(self.conn, token_accounts, empty, ["user_id"])
                )
                row = (await self.conn.execute(stmt, params)).mappings().one()
        if row is None:
            return Account(user_id=user)
        return Account(
            user_id=user,
            free_day=row["free_day"],
            free_remaining=row["free_remaining"],
            purchased=row["purchased"],
        )

    async def append(self, entry: LedgerEntry) -> LedgerEntry:
        if self.conn.dialect.name == "postgresql":
            return await self._append_postgres(entry)
        insert = insert_or_ignore(
            self.conn, ledger_entries, _values(entry), ["idempotency_key"]
        ).returning(_E.seq)
        with translate_db_errors():
            if (await self.conn.execute(insert)).one_or_none() is None:
                stored = await self.find(entry.idempotency_key)
                if stored is None:  # pragma: no cover - the key's row cannot vanish mid-transaction
                    raise ConflictError(detail=_STALE)
                return stored
            moved = await self.conn.execute(_move_balance(entry))
            if moved.rowcount != 1:
                await self._open_account(entry)
        return entry

    async def find(self, key: str) -> LedgerEntry | None:
        with translate_db_errors():
            row = (await self.conn.execute(_FIND, {"key": key})).mappings().one_or_none()
        return None if row is None else _entry(row)

    async def for_reference(self, user: UserId, reference: Reference) -> tuple[LedgerEntry, ...]:
        stmt = (
            select(ledger_entries)
            .where(
                _E.user_id == user,
                _E.reference_type == reference.type,
                _E.reference_id == reference.id,
            )
            .order_by(_E.seq)
        )
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        return tuple(_entry(row) for row in rows)

    async def list_for(self, user: UserId, page: PageRequest) -> Page[LedgerEntry]:
        stmt = select(ledger_entries).where(_E.user_id == user)
        if page.cursor is not None:
            (before,) = decode_cursor(page.cursor, 1)
            stmt = stmt.where(_E.seq < _seq(before))
        stmt = stmt.order_by(_E.seq.desc()).limit(page.limit + 1)
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        chosen = rows[: page.limit]
        more = len(rows) > page.limit
        cursor = encode_cursor(str(chosen[-1]["seq"])) if more else None
        return Page(tuple(_entry(row) for row in chosen), cursor)

    async def unsettled_spends(
        self,
        *,
        operations: Collection[str],
        before: datetime,
        limit: int,
        since: datetime | None = None,
    ) -> tuple[LedgerEntry, ...]:
        if not operations or limit <= 0:
            return ()
        # A range scan of ix_ledger_entries_kind_operation_created_at per operation; each
        # candidate costs two index probes: the unique `refund_of` and the versions' key.
        refunded = exists().where(_REFUNDS.c.refund_of == _E.id)
        delivered = exists().where(_E.reference_type == VERSION_REFERENCE, _V.id == _E.reference_id)
        stmt = select(ledger_entries).where(
            _E.kind == EntryKind.SPEND.value,
            _E.operation.in_(sorted(operations)),
            _E.created_at < before,
            ~refunded,
            ~delivered,
        )
        if since is not None:
            stmt = stmt.where(_E.created_at >= since)
        stmt = stmt.order_by(_E.created_at, _E.seq).limit(limit)
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        return tuple(_entry(row) for row in rows)

    async def _append_postgres(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.kind is EntryKind.DAILY_FREE:
            if entry.free_part != entry.free_remaining_after:
                raise ConflictError(detail=_STALE)
            stmt = _PG_APPEND_DAILY_FREE
        else:
            stmt = _PG_APPEND
        params = _values(entry)
        params["day"] = utc_day(entry.created_at)
        with translate_db_errors():
            inserted, moved = (await self.conn.execute(stmt, params)).one()
            if not inserted:
                stored = await self.find(entry.idempotency_key)
                if stored is None:  # pragma: no cover - the key's row cannot vanish mid-transaction
                    raise ConflictError(detail=_STALE)
                return stored
            if not moved:
                await self._open_account(entry)
        return entry

    async def _open_account(self, entry: LedgerEntry) -> None:
        # No row moved: either the user has none yet (an append without `account`) or the
        # entry was computed from a stale balance. Only the first may go ahead.
        fresh = Account(user_id=entry.user_id)
        if not fresh.admits(entry):
            raise ConflictError(detail=_STALE)
        after = fresh.apply(entry)
        values = {
            "user_id": entry.user_id,
            "free_day": after.free_day,
            "free_remaining": after.free_remaining,
            "purchased": after.purchased,
            "revision": 1,
        }
        inserted = await self.conn.execute(
            insert_or_ignore(self.conn, token_accounts, values, ["user_id"]).returning(_A.user_id)
        )
        if inserted.one_or_none() is None:
            raise ConflictError(detail=_STALE)


def _move_balance(entry: LedgerEntry) -> Any:  # noqa: ANN401 - SQLAlchemy's Update generics
    """The balance update, applied only if the row still holds what `entry` started from."""
    day = utc_day(entry.created_at)
    day_value = literal(day, Date)
    opened = _A.free_day >= day_value
    guards: list[ColumnElement[bool]] = [
        _A.user_id == entry.user_id,
        _A.purchased + entry.purchased_part == entry.purchased_after,
    ]
    if entry.kind is EntryKind.DAILY_FREE:
        if entry.free_part != entry.free_remaining_after:
            raise ConflictError(detail=_STALE)
        guards.append(or_(_A.free_day.is_(None), _A.free_day < day_value))
    else:
        free_before = case((opened, _A.free_remaining), else_=0)
        guards.append(free_before + entry.free_part == entry.free_remaining_after)
    return (
        update(token_accounts)
        .where(*guards)
        .values(
            # Never move back a day another instance's clock already opened.
            free_day=case((_A.free_day > day_value, _A.free_day), else_=day_value),
            free_remaining=entry.free_remaining_after,
            purchased=entry.purchased_after,
            revision=_A.revision + 1,
        )
    )


def _seq(cursor_part: str) -> int:
    try:
        return int(cursor_part)
    except ValueError:
        raise ValidationError.single("cursor", "is not a valid cursor") from None


def _values(entry: LedgerEntry) -> dict[str, Any]:
    reference = entry.reference
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "kind": entry.kind.value,
        "amount": entry.amount,
        "free_part": entry.free_part,
        "purchased_part": entry.purchased_part,
        "purchased_after": entry.purchased_after,
        "free_remaining_after": entry.free_remaining_after,
        "balance_after": entry.balance_after,
        "operation": entry.operation,
        "reference_type": None if reference is None else reference.type,
        "reference_id": None if reference is None else reference.id,
        "refund_of": entry.refund_of,
        "forfeited_free": entry.forfeited_free,
        "shortfall": entry.shortfall,
        "idempotency_key": entry.idempotency_key,
        "reason": entry.reason,
        "created_at": entry.created_at,
    }


def _entry(row: RowMapping) -> LedgerEntry:
    reference = None
    if row["reference_type"] is not None:
        reference = Reference(row["reference_type"], row["reference_id"])
    refund_of = row["refund_of"]
    return LedgerEntry(
        id=LedgerEntryId(row["id"]),
        user_id=UserId(row["user_id"]),
        kind=EntryKind(row["kind"]),
        free_part=row["free_part"],
        purchased_part=row["purchased_part"],
        purchased_after=row["purchased_after"],
        free_remaining_after=row["free_remaining_after"],
        operation=row["operation"],
        reference=reference,
        refund_of=None if refund_of is None else LedgerEntryId(refund_of),
        forfeited_free=row["forfeited_free"],
        shortfall=row["shortfall"],
        idempotency_key=row["idempotency_key"],
        reason=row["reason"],
        created_at=row["created_at"],
    )


if TYPE_CHECKING:
    _conforms: type[TokenLedger] = SqlTokenLedger
