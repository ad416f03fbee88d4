"""ImageJobRepository contract: jobs and images store, filter, count and page alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from mynth_core.errors import NotFoundError, ValidationError
from mynth_core.ids import ImageId, ImageJobId, PersonaId, UserId, VersionId
from mynth_core.images.model import FailureCode, ImageJob, JobError, JobStatus, StoredImage
from mynth_core.images.registry import ImageOptions, Shot, Style
from mynth_core.pagination import PageRequest, encode_cursor
from mynth_core.pricing import ImageTier
from mynth_core.testing import a_persona
from mynth_core.uow import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
ALICE = UserId("alice")
BOB = UserId("bob")
PERSONA = PersonaId("prs_0001")


def a_job(
    number: int,
    *,
    owner: UserId = ALICE,
    persona: PersonaId = PERSONA,
    status: JobStatus = JobStatus.QUEUED,
    options: ImageOptions | None = None,
) -> ImageJob:
    return ImageJob(
        id=ImageJobId(f"igj_{number:04d}"),
        owner_id=owner,
        persona_id=persona,
        persona_version_id=VersionId(f"prv_{persona.removeprefix('prs_')}_1"),
        quality=ImageTier.MEDIUM,
        model="black-forest-labs/flux-dev",
        options=options or ImageOptions(),
        status=status,
        cost=3,
        charge_key=f"image_generate:igj_{number:04d}",
        task_uuid=f"00000000-0000-4000-8000-{number:012d}",
        created_at=T0,
    )


def an_image(number: int, *, persona: PersonaId = PERSONA, at: datetime = T0) -> StoredImage:
    return StoredImage(
        id=ImageId(f"img_{number:04d}"),
        owner_id=ALICE,
        persona_id=persona,
        job_id=ImageJobId(f"igj_{number:04d}"),
        width=896,
        height=1152,
        model="black-forest-labs/flux-dev",
        nsfw=False,
        prompt=f"portrait number {number}, soft light — ✨",
        created_at=at,
    )


async def add_jobs(uow_factory: UnitOfWorkFactory, *jobs: ImageJob) -> None:
    async with uow_factory() as uow:
        for job in jobs:
            await uow.images.add(job)
        await uow.commit()


async def add_images(uow_factory: UnitOfWorkFactory, *images: StoredImage) -> None:
    """Each image with the job that made it (a SQL image refers to its job)."""
    async with uow_factory() as uow:
        for image in images:
            job = attrs.evolve(
                a_job(int(image.job_id.removeprefix("igj_")), persona=image.persona_id),
                status=JobStatus.SUCCEEDED,
                image_id=image.id,
            )
            await uow.images.add(job)
            await uow.images.add_image(image)
        await uow.commit()


async def get_job(uow_factory: UnitOfWorkFactory, job_id: str, **owner: UserId) -> ImageJob:
    async with uow_factory(read_only=True) as uow:
        return await uow.images.get(ImageJobId(job_id), **owner)


async def gallery(
    uow_factory: UnitOfWorkFactory, persona: PersonaId = PERSONA, *, limit: int = 50
) -> list[list[str]]:
    """Every page of the persona's images, as ids, following the cursors."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        async with uow_factory(read_only=True) as uow:
            page = await uow.images.images_of(persona, PageRequest(limit=limit, cursor=cursor))
        pages.append([image.id for image in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_a_job_reads_back_equal_by_get_and_get_for_update(uow_factory) -> None:
    options = ImageOptions(
        quality=ImageTier.HIGH,
        model="bytedance/seedream-3",
        style=Style.CINEMATIC,
        shot=Shot.PORTRAIT,
        nsfw=False,
        note="in the rain, «neon» signs",
    )
    job = a_job(1, options=options)
    await add_jobs(uow_factory, job)

    async with uow_factory() as uow:
        found = await uow.images.get(job.id)
        locked = await uow.images.get_for_update(job.id)

    assert found == job
    assert locked == job
    assert found.created_at.utcoffset() == timedelta(0)
    assert found.created_at == T0  # the milliseconds survive


async def test_a_saved_job_keeps_its_progress_its_error_and_its_image(uow_factory) -> None:
    job = a_job(1)
    await add_jobs(uow_factory, job)
    running = job.start(at=T0 + timedelta(seconds=1))
    failed = running.fail(
        JobError(FailureCode.CONTENT_REFUSED, "the provider refused"), at=T0 + timedelta(seconds=9)
    )
    succeeded = running.succeed(ImageId("img_0001"), at=T0 + timedelta(seconds=5))

    async with uow_factory() as uow:
        await uow.images.save(running)
        await uow.commit()
    assert await get_job(uow_factory, job.id) == running

    async with uow_factory() as uow:
        await uow.images.save(failed)
        await uow.commit()
    assert await get_job(uow_factory, job.id) == failed

    async with uow_factory() as uow:
        await uow.images.save(succeeded)
        await uow.commit()
    found = await get_job(uow_factory, job.id)
    assert found == succeeded
    assert found.attempts == 1


async def test_a_job_is_not_found_for_another_owner_or_when_missing(uow_factory) -> None:
    await add_jobs(uow_factory, a_job(1))

    assert (await get_job(uow_factory, "igj_0001", owner=ALICE)).id == "igj_0001"
    with pytest.raises(NotFoundError):
        await get_job(uow_factory, "igj_0001", owner=BOB)
    with pytest.raises(NotFoundError):
        await get_job(uow_factory, "igj_9999")
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.images.get_for_update(ImageJobId("igj_9999"))


async def test_an_uncommitted_job_is_not_kept(uow_factory) -> None:
    async with uow_factory() as uow:
        await uow.images.add(a_job(1))

    with pytest.raises(NotFoundError):
        await get_job(uow_factory, "igj_0001")


async def test_in_flight_counts_the_owners_queued_and_running_jobs_only(uow_factory) -> None:
    running = a_job(2).start(at=T0)
    await add_jobs(
        uow_factory,
        a_job(1),
        running,
        attrs.evolve(a_job(3), status=JobStatus.SUCCEEDED),
        attrs.evolve(a_job(4), status=JobStatus.FAILED),
        a_job(5, owner=BOB),
    )

    async with uow_factory(read_only=True) as uow:
        assert await uow.images.count_in_flight(ALICE) == 2
        assert await uow.images.count_in_flight(BOB) == 1
        assert await uow.images.count_in_flight(UserId("carol")) == 0

    async with uow_factory() as uow:
        await uow.images.save(running.succeed(ImageId("img_0002"), at=T0))
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        assert await uow.images.count_in_flight(ALICE) == 1


async def test_an_image_reads_back_equal_and_a_missing_one_is_not_found(uow_factory) -> None:
    image = attrs.evolve(an_image(1), nsfw=True)
    await add_images(uow_factory, image)

    async with uow_factory(read_only=True) as uow:
        assert await uow.images.image(image.id) == image
        with pytest.raises(NotFoundError):
            await uow.images.image(ImageId("img_9999"))


async def test_the_gallery_pages_newest_first_and_only_the_personas_images(uow_factory) -> None:
    images = [an_image(n, at=T0 + timedelta(minutes=n)) for n in range(1, 8)]
    same_instant = [an_image(n, at=T0 + timedelta(minutes=30)) for n in (8, 9, 10)]
    elsewhere = an_image(11, persona=PersonaId("prs_0002"))
    await add_images(uow_factory, *images, *same_instant, elsewhere)

    pages = await gallery(uow_factory, limit=3)

    assert pages == [
        ["img_0010", "img_0009", "img_0008"],  # the same instant: by id, descending
        ["img_0007", "img_0006", "img_0005"],
        ["img_0004", "img_0003", "img_0002"],
        ["img_0001"],
    ]
    assert await gallery(uow_factory, PersonaId("prs_0002")) == [["img_0011"]]
    assert await gallery(uow_factory, PersonaId("prs_none")) == [[]]


async def test_an_image_added_after_a_page_was_read_does_not_shift_the_next_page(
    uow_factory,
) -> None:
    await add_images(uow_factory, *(an_image(n, at=T0 + timedelta(minutes=n)) for n in (1, 2, 3)))
    async with uow_factory(read_only=True) as uow:
        first = await uow.images.images_of(PERSONA, PageRequest(limit=2))
    await add_images(uow_factory, an_image(4, at=T0 + timedelta(minutes=4)))

    async with uow_factory(read_only=True) as uow:
        rest = await uow.images.images_of(PERSONA, PageRequest(limit=2, cursor=first.next_cursor))

    assert [i.id for i in first.items] == ["img_0003", "img_0002"]
    assert [i.id for i in rest.items] == ["img_0001"]
    assert rest.next_cursor is None


@pytest.mark.parametrize("cursor", ["not a cursor", encode_cursor("only-one-part")])
async def test_a_cursor_the_repository_did_not_make_is_rejected(uow_factory, cursor) -> None:
    async with uow_factory(read_only=True) as uow:
        with pytest.raises(ValidationError):
            await uow.images.images_of(PERSONA, PageRequest(cursor=cursor))


async def test_a_personas_profile_image_round_trips(uow_factory) -> None:
    persona, _ = a_persona(persona_id="prs_0001", at=T0)
    async with uow_factory() as uow:
        await uow.personas.add(persona)
        await uow.commit()
    assert (await _persona(uow_factory)).profile_image_id is None

    shown = persona.show_image(ImageId("img_0001"), at=T0 + timedelta(seconds=1))
    async with uow_factory() as uow:
        await uow.personas.save(shown)
        await uow.commit()

    found = await _persona(uow_factory)
    assert found == shown
    assert found.profile_image_id == "img_0001"


async def _persona(uow_factory: UnitOfWorkFactory):
    async with uow_factory(read_only=True) as uow:
        return await uow.personas.get(PERSONA)
