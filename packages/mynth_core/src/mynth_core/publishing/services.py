"""Publishing use cases: request (202 + job), the classification job, unpublish, the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import GenerationInvalidError, MynthError, NotFoundError
from mynth_core.generation.partial import loads_object
from mynth_core.generation.ports import ChatModel, ChatRequest, PromptRenderer
from mynth_core.generation.runs import GenerationLog, Trace
from mynth_core.identity import Principal
from mynth_core.ids import JOB, IdFactory, JobId, PersonaId, VersionId
from mynth_core.images.ports import QueuedJob
from mynth_core.pagination import Page, PageRequest
from mynth_core.personas.events import PersonaPublished, PersonaPublishFailed, PersonaUnpublished
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.model import Persona
from mynth_core.personas.services import record
from mynth_core.publishing.model import (
    PENDING_TIMEOUT,
    Classification,
    MinorWithNsfwImageError,
    NotPublishedError,
    ProfileImageRequiredError,
    Publication,
    PublishInProgressError,
    PublishStatus,
    apply_rules,
    slugify,
)
from mynth_core.publishing.ports import CatalogQuery, PublicPersona
from mynth_core.publishing.prompts import (
    CLASSIFICATION_SCHEMA,
    CLASSIFY_MODELS,
    CLASSIFY_TIMEOUT,
    ClassificationPrompt,
    parse_classification,
)
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

PUBLISH_JOB_KIND: Final = "publish"
TIMEOUT: Final = "timeout"
CLASSIFICATION_FAILED: Final = "classification_failed"
MINOR_NSFW_IMAGE: Final = "minor_nsfw_image"
SLUG_ATTEMPTS: Final = 5


@attrs.frozen
class RequestPublish:
    """Accept a publish (202): pending, with the job enqueued in the same transaction."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(
        self, who: Principal, persona_id: PersonaId, version_id: VersionId | None = None
    ) -> tuple[Persona, Publication]:
        """The persona as saved, with its pending publication.

        Raises: NotFoundError, ProfileImageRequiredError, PublishInProgressError.
        """
        now = self.clock.now()
        async with self.uow() as uow:
            persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
            publication = persona.publication.seen_at(now)
            if publication.status is PublishStatus.PENDING:
                raise PublishInProgressError(detail="a publish of this persona is pending")
            if persona.profile_image_id is None:
                raise ProfileImageRequiredError(detail="publishing needs a profile image")
            chosen = version_id or persona.current_version_id
            await uow.personas.version(persona_id, chosen)  # 404 for another persona's
            publication = attrs.evolve(
                publication,
                status=PublishStatus.PENDING,
                requested_at=now,
                requested_version_id=chosen,
            )
            pending = attrs.evolve(persona, publication=publication)
            await uow.personas.save(pending)
            await uow.jobs.enqueue(
                QueuedJob(id=JobId(self.ids.new(JOB)), kind=PUBLISH_JOB_KIND, ref=persona_id)
            )
            await uow.commit()
        return pending, publication


@attrs.frozen(kw_only=True)
class Classifier:
    """The text model and prompts the classification uses."""

    model: ChatModel
    renderer: PromptRenderer
    log: GenerationLog


@attrs.frozen
class RunPublishJob:
    """The publish job: classify, apply the rules, pin the public version (or fail)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    classifier: Classifier

    async def __call__(self, persona_id: PersonaId) -> PublishStatus:
        """Idempotent: a persona that is no longer pending (or timed out) is left alone."""
        async with self.uow(read_only=True) as uow:
            try:
                persona = await uow.personas.get(persona_id)
            except NotFoundError:
                return PublishStatus.NONE
            requested = persona.publication
            if requested.seen_at(self.clock.now()).status is not PublishStatus.PENDING:
                return requested.status
            version_id = requested.requested_version_id or persona.current_version_id
            version = await uow.personas.version(persona_id, version_id)
            image = persona.profile_image_id
            nsfw_image = image is not None and (await uow.images.image(image)).nsfw
        try:
            classification = apply_rules(
                await self._classify(persona, version.data), nsfw_image=nsfw_image
            )
        except MinorWithNsfwImageError as exc:
            return await self._fail(persona, requested, MINOR_NSFW_IMAGE, str(exc))
        except MynthError as exc:
            return await self._fail(persona, requested, CLASSIFICATION_FAILED, str(exc))
        return await self._publish(
            persona, requested, version.id, version.data.name, classification
        )

    async def _classify(self, persona: Persona, data: PersonaData) -> Classification:
        trace = Trace(operation="publish_classify", models=CLASSIFY_MODELS, persona_id=persona.id)
        request = ChatRequest(
            messages=self.classifier.renderer.render(ClassificationPrompt(data)),
            models=CLASSIFY_MODELS,
            schema=CLASSIFICATION_SCHEMA,
            max_tokens=800,
            timeout=CLASSIFY_TIMEOUT,
        )
        try:
            completion = await self.classifier.model.complete(request)
            trace.completion, trace.attempts = completion, completion.attempts
            try:
                result = parse_classification(loads_object(completion.text))
            except ValueError as exc:
                raise GenerationInvalidError(str(exc)) from exc
        except MynthError as exc:
            self.classifier.log.record(trace.finish(exc))
            raise
        self.classifier.log.record(trace.finish())
        return result

    async def _publish(
        self,
        persona: Persona,
        requested: Publication,
        version_id: VersionId,
        name: str,
        classification: Classification,
    ) -> PublishStatus:
        now = self.clock.now()
        async with self.uow() as uow:
            current = await uow.personas.get_for_update(persona.id, owner=persona.owner_id)
            if not _same_request(current.publication, requested, now):
                return current.publication.status  # a late result is discarded
            slug = current.publication.slug or await _free_slug(uow, name, classification.headline)
            publication = attrs.evolve(
                current.publication,
                status=PublishStatus.PUBLISHED,
                slug=slug,
                public_name=name,
                classification=classification,
                published_at=now,
                requested_version_id=None,
                last_error=None,
            )
            published = attrs.evolve(
                current, public_version_id=version_id, publication=publication, updated_at=now
            )
            await uow.personas.save(published)
            event = PersonaPublished(
                persona_id=persona.id,
                at=now,
                version_id=version_id,
                slug=slug,
                nsfw_rating=classification.nsfw_rating.value,
            )
            await record(uow, self.ids, (event,))
            await uow.commit()
        return PublishStatus.PUBLISHED

    async def _fail(
        self, persona: Persona, requested: Publication, code: str, message: str
    ) -> PublishStatus:
        return await _fail_publish(self, persona, requested, code, message)


@attrs.frozen
class FailPublish:
    """The publish job's give-up path: its pending publish fails (`classification_failed`).

    The worker calls it when the job failed for the last time (every attempt raised, or its
    workers kept dying). A persona that is no longer pending is left alone.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, persona_id: PersonaId, message: str) -> PublishStatus:
        async with self.uow(read_only=True) as uow:
            try:
                persona = await uow.personas.get(persona_id)
            except NotFoundError:
                return PublishStatus.NONE
        requested = persona.publication
        if requested.seen_at(self.clock.now()).status is not PublishStatus.PENDING:
            return requested.status
        return await _fail_publish(self, persona, requested, CLASSIFICATION_FAILED, message)


@attrs.frozen
class FailStalePublishes:
    """The sweep of §5.3: a publish pending for over 10 minutes fails with `timeout`.

    Reads already show such a publish as failed; this writes it down, with its event, so
    the state stays right for queries that do not look through `seen_at`.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, *, limit: int = 100) -> int:
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            stale = await uow.personas.stale_publishes(now - PENDING_TIMEOUT, limit=limit)
        failed = 0
        for persona_id in stale:
            async with self.uow(read_only=True) as uow:
                persona = await uow.personas.get(persona_id)
            requested = persona.publication
            seen = requested.seen_at(now)
            if seen.status is PublishStatus.PENDING or seen.last_error is None:
                continue
            await _fail_publish(self, persona, requested, TIMEOUT, seen.last_error.message)
            failed += 1
        return failed


async def _fail_publish(
    use_case: RunPublishJob | FailPublish | FailStalePublishes,
    persona: Persona,
    requested: Publication,
    code: str,
    message: str,
) -> PublishStatus:
    """Fail the publish `requested`, unless another request replaced it.

    The state becomes `failed`, or goes back to `published` with the error while an older
    public version is live; event `persona.publish_failed`.
    """
    now = use_case.clock.now()
    async with use_case.uow() as uow:
        current = await uow.personas.get_for_update(persona.id, owner=persona.owner_id)
        stored = current.publication
        if (
            stored.status is not PublishStatus.PENDING
            or stored.requested_at != requested.requested_at
        ):
            return stored.status  # another request replaced it, or it already ended
        if code != TIMEOUT and not _same_request(stored, requested, now):
            return stored.status  # timed out meanwhile: the sweep records that, not this

        version_id = requested.requested_version_id or current.current_version_id
        failed = current.publication.failed(code, message, now, live=current.is_public)
        await uow.personas.save(attrs.evolve(current, publication=failed))
        event = PersonaPublishFailed(
            persona_id=persona.id, at=now, version_id=version_id, error_code=code
        )
        await record(uow, use_case.ids, (event,))
        await uow.commit()
    return failed.status


def _same_request(current: Publication, requested: Publication, now: datetime) -> bool:
    """Whether `current` is still the pending publish this job was started for."""
    return (
        current.seen_at(now).status is PublishStatus.PENDING
        and current.requested_at == requested.requested_at
    )


async def _free_slug(uow: UnitOfWork, name: str, headline: str) -> str:
    """A slug no persona has ever used (a collision of 10 random characters is retried)."""
    for _ in range(SLUG_ATTEMPTS):
        slug = slugify(name, headline)
        if not await uow.personas.slug_taken(slug):
            return slug
    msg = "could not find a free slug"
    raise MynthError(msg)


@attrs.frozen
class GetPublication:
    """The publication state of one of the caller's personas (a stale pending has failed)."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal, persona_id: PersonaId) -> tuple[Persona, Publication]:
        async with self.uow(read_only=True) as uow:
            persona = await uow.personas.get(persona_id, owner=who.user_id)
        return persona, persona.publication.seen_at(self.clock.now())


@attrs.frozen
class Unpublish:
    """Take a published persona out of the catalog; its slug and classification stay."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, who: Principal, persona_id: PersonaId) -> None:
        """Raises: NotFoundError, NotPublishedError."""
        now = self.clock.now()
        async with self.uow() as uow:
            persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
            if persona.public_version_id is None:
                raise NotPublishedError(detail="the persona is not published")
            version_id = persona.public_version_id
            publication = attrs.evolve(
                persona.publication, status=PublishStatus.NONE, requested_version_id=None
            )
            await uow.personas.save(
                attrs.evolve(
                    persona, public_version_id=None, publication=publication, updated_at=now
                )
            )
            event = PersonaUnpublished(persona_id=persona_id, at=now, version_id=version_id)
            await record(uow, self.ids, (event,))
            await uow.commit()


@attrs.frozen
class BrowseCatalog:
    """The public catalog, newest first."""

    uow: UnitOfWorkFactory

    async def __call__(self, query: CatalogQuery, page: PageRequest) -> Page[PublicPersona]:
        async with self.uow(read_only=True) as uow:
            return await uow.catalog.search(query, page)


@attrs.frozen
class GetPublicPersona:
    """One public persona by slug, with its public version."""

    uow: UnitOfWorkFactory

    async def __call__(self, slug: str) -> PublicPersona:
        async with self.uow(read_only=True) as uow:
            return await uow.catalog.get_by_slug(slug)
