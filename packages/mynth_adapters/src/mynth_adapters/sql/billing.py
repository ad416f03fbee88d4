"""SqlCheckoutRepository and SqlWebhookDeliveryLog: checkout sessions and handled deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.tables import checkout_sessions, insert_or_ignore, webhook_deliveries
from mynth_core.billing.ports import CheckoutSession, CheckoutStatus
from mynth_core.ids import UserId

if TYPE_CHECKING:
    from mynth_core.billing.ports import CheckoutRepository
    from mynth_core.webhooks import WebhookDeliveryLog

_C = checkout_sessions.c
_D = webhook_deliveries.c


@attrs.frozen
class SqlCheckoutRepository:
    """Checkout sessions in `checkout_sessions`."""

    conn: AsyncConnection

    async def add(self, session: CheckoutSession) -> None:
        values = {
            "id": session.id,
            "user_id": session.user_id,
            "pack_id": session.pack_id,
            "status": session.status.value,
            "order_id": session.order_id,
            "created_at": session.created_at,
            "paid_at": session.paid_at,
        }
        with translate_db_errors():  # a taken id is a unique violation: ConflictError
            await self.conn.execute(insert(checkout_sessions).values(values))

    async def get(self, checkout_id: str) -> CheckoutSession | None:
        stmt = select(checkout_sessions).where(_C.id == checkout_id)
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else _session(row)

    async def mark_paid(self, checkout_id: str, *, order_id: str, at: datetime) -> bool:
        stmt = (
            update(checkout_sessions)
            .where(_C.id == checkout_id, _C.status == CheckoutStatus.OPEN.value)
            .values(status=CheckoutStatus.PAID.value, order_id=order_id, paid_at=at)
        )
        with translate_db_errors():
            return (await self.conn.execute(stmt)).rowcount == 1


def _session(row: RowMapping) -> CheckoutSession:
    return CheckoutSession(
        id=row["id"],
        user_id=UserId(row["user_id"]),
        pack_id=row["pack_id"],
        status=CheckoutStatus(row["status"]),
        order_id=row["order_id"],
        created_at=row["created_at"],
        paid_at=row["paid_at"],
    )


@attrs.frozen
class SqlWebhookDeliveryLog:
    """Handled delivery ids in `webhook_deliveries`, keyed by `(source, delivery_id)`."""

    conn: AsyncConnection

    async def seen(self, source: str, delivery_id: str) -> bool:
        stmt = select(_D.source).where(_D.source == source, _D.delivery_id == delivery_id)
        with translate_db_errors():
            return (await self.conn.execute(stmt)).one_or_none() is not None

    async def record(self, source: str, delivery_id: str, *, at: datetime) -> bool:
        # A concurrent twin waits on the primary key until the first transaction ends, then
        # inserts nothing (it committed) or inserts after all (it rolled back).
        values = {"source": source, "delivery_id": delivery_id, "received_at": at}
        stmt = insert_or_ignore(
            self.conn, webhook_deliveries, values, ["source", "delivery_id"]
        ).returning(_D.source)
        with translate_db_errors():
            return (await self.conn.execute(stmt)).one_or_none() is not None


if TYPE_CHECKING:
    _checkouts: type[CheckoutRepository] = SqlCheckoutRepository
    _deliveries: type[WebhookDeliveryLog] = SqlWebhookDeliveryLog
