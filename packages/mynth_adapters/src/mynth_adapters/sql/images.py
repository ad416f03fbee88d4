"""SqlImageJobRepository: image jobs in `image_jobs`, the images they made in `images`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from cattrs.preconf.json import JsonConverter
from sqlalchemy import ColumnElement, RowMapping, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.converters import persistence_converter
from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.personas import _decode_persona_cursor
from mynth_adapters.sql.tables import image_jobs, images
from mynth_core.errors import NotFoundError
from mynth_core.ids import ImageId, ImageJobId, PersonaId, UserId, VersionId
from mynth_core.images.model import FailureCode, ImageJob, JobError, JobStatus, StoredImage
from mynth_core.images.registry import ImageOptions
from mynth_core.pagination import Page, PageRequest, encode_cursor
from mynth_core.pricing import ImageTier

if TYPE_CHECKING:
    from mynth_core.images.ports import ImageJobRepository

_J = image_jobs.c
_I = images.c
_IN_FLIGHT = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@attrs.frozen
class SqlImageJobRepository:
    """Image jobs and images on the unit of work's connection.

    `get_for_update` takes `FOR UPDATE` on Postgres; on SQLite the unit of work's
    `BEGIN IMMEDIATE` already holds the database's write lock.
    """

    conn: AsyncConnection
    converter: JsonConverter = attrs.field(factory=persistence_converter, repr=False)

    async def add(self, job: ImageJob) -> None:
        with translate_db_errors():
            await self.conn.execute(insert(image_jobs).values(self._job_values(job)))

    async def get(self, job_id: ImageJobId, *, owner: UserId | None = None) -> ImageJob:
        stmt = select(image_jobs).where(_J.id == job_id)
        if owner is not None:
            stmt = stmt.where(_J.owner_id == owner)
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("image job", job_id)
        return self._job(row)

    async def get_for_update(self, job_id: ImageJobId) -> ImageJob:
        stmt = select(image_jobs).where(_J.id == job_id).with_for_update()
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("image job", job_id)
        return self._job(row)

    async def save(self, job: ImageJob) -> None:
        values = self._job_values(job)
        for immutable in ("id", "owner_id", "created_at"):
            del values[immutable]
        stmt = update(image_jobs).where(_J.id == job.id).values(values)
        with translate_db_errors():
            result = await self.conn.execute(stmt)
        if result.rowcount == 0:
            raise NotFoundError("image job", job.id)

    async def count_in_flight(self, owner: UserId) -> int:
        stmt = (
            select(func.count())
            .select_from(image_jobs)
            .where(_J.owner_id == owner, _J.status.in_(_IN_FLIGHT))
        )
        with translate_db_errors():
            count: int = (await self.conn.execute(stmt)).scalar_one()
        return count

    async def add_image(self, image: StoredImage) -> None:
        with translate_db_errors():
            await self.conn.execute(insert(images).values(_image_values(image)))

    async def image(self, image_id: ImageId) -> StoredImage:
        stmt = select(images).where(_I.id == image_id)
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("image", image_id)
        return _image(row)

    async def images_of(self, persona_id: PersonaId, page: PageRequest) -> Page[StoredImage]:
        stmt = select(images).where(_I.persona_id == persona_id)
        if page.cursor is not None:
            stmt = stmt.where(_before(*_decode_persona_cursor(page.cursor)))
        stmt = stmt.order_by(_I.created_at.desc(), _I.id.desc()).limit(page.limit + 1)
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        items = tuple(_image(row) for row in rows[: page.limit])
        last = items[-1] if len(rows) > page.limit else None
        cursor = encode_cursor(last.created_at.isoformat(), last.id) if last else None
        return Page(items, cursor)

    def _job_values(self, job: ImageJob) -> dict[str, Any]:
        error = job.error
        return {
            "id": job.id,
            "owner_id": job.owner_id,
            "persona_id": job.persona_id,
            "persona_version_id": job.persona_version_id,
            "quality": job.quality.value,
            "model": job.model,
            "options": self.converter.unstructure(job.options),
            "status": job.status.value,
            "cost": job.cost,
            "charge_key": job.charge_key,
            "task_uuid": job.task_uuid,
            "attempts": job.attempts,
            "error_code": None if error is None else error.code.value,
            "error_message": None if error is None else error.message,
            "image_id": job.image_id,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
        }

    def _job(self, row: RowMapping) -> ImageJob:
        error = None
        if row["error_code"] is not None:
            error = JobError(FailureCode(row["error_code"]), row["error_message"] or "")
        image_id = row["image_id"]
        return ImageJob(
            id=ImageJobId(row["id"]),
            owner_id=UserId(row["owner_id"]),
            persona_id=PersonaId(row["persona_id"]),
            persona_version_id=VersionId(row["persona_version_id"]),
            quality=ImageTier(row["quality"]),
            model=row["model"],
            options=self.converter.structure(row["options"], ImageOptions),
            status=JobStatus(row["status"]),
            cost=row["cost"],
            charge_key=row["charge_key"],
            task_uuid=row["task_uuid"],
            attempts=row["attempts"],
            error=error,
            image_id=None if image_id is None else ImageId(image_id),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


def _image_values(image: StoredImage) -> dict[str, Any]:
    return {
        "id": image.id,
        "owner_id": image.owner_id,
        "persona_id": image.persona_id,
        "job_id": image.job_id,
        "width": image.width,
        "height": image.height,
        "model": image.model,
        "nsfw": image.nsfw,
        "prompt": image.prompt,
        "created_at": image.created_at,
    }


def _image(row: RowMapping) -> StoredImage:
    return StoredImage(
        id=ImageId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        persona_id=PersonaId(row["persona_id"]),
        job_id=ImageJobId(row["job_id"]),
        width=row["width"],
        height=row["height"],
        model=row["model"],
        nsfw=bool(row["nsfw"]),
        prompt=row["prompt"],
        created_at=row["created_at"],
    )


def _before(at: datetime, last_id: str) -> ColumnElement[bool]:
    """Images after (`at`, `last_id`) in (created_at desc, id desc) order."""
    return or_(_I.created_at < at, and_(_I.created_at == at, _I.id < last_id))


if TYPE_CHECKING:
    _conforms: type[ImageJobRepository] = SqlImageJobRepository
