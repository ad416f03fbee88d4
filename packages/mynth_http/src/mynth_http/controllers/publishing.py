"""Publishing routes: the owner's publication of a persona, and the anonymous public catalog."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from mynth_core.identity import Principal
from mynth_core.ids import PersonaId
from mynth_core.pagination import PageRequest
from mynth_core.publishing.ports import (
    CATALOG_DEFAULT_LIMIT,
    CATALOG_MAX_LIMIT,
    QUERY_LIMIT,
    CatalogQuery,
)
from mynth_core.publishing.services import (
    BrowseCatalog,
    GetPublication,
    GetPublicPersona,
    RequestPublish,
    Unpublish,
)
from mynth_http.di import Injected
from mynth_http.problems import problem_responses
from mynth_http.ratelimit import admit_publish
from mynth_http.schemas.personas import GenderName, PublicationOut
from mynth_http.schemas.publishing import PublicCatalogPageOut, PublicPersonaOut, PublishIn

Me = Injected[Principal]
Id = FromPath[str]
TagList = Annotated[
    str | None, QueryParameter(description="comma-separated tag names", max_length=2000)
]
Limit = Annotated[
    int | None,
    QueryParameter(ge=1, le=CATALOG_MAX_LIMIT, description=f"default {CATALOG_DEFAULT_LIMIT}"),
]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")]

PUBLISH = problem_responses(400, 401, 404, 409, 413, 415, 422, 429)
READ = problem_responses(400, 401, 404, 422)
UNPUBLISH = problem_responses(400, 401, 404, 409, 422)


class PublicationController(Controller):
    """`/v1/personas/{id}/publication`: publish (202 + a job), look, unpublish."""

    path = "/v1/personas"
    tags = ["publishing"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/{persona_id:str}/publication",
        operation_id="PublishPersona",
        responses=PUBLISH,
        summary="Publish a version (202: classified by a job; 5 requests an hour)",
        status_code=202,
    )
    async def publish_persona(
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        persona_id: Id,
        request_publish: Injected[RequestPublish],
        data: JSONBody[PublishIn | None] = None,
    ) -> PublicationOut:
        await admit_publish(request, principal)
        version_id = None if data is None else data.chosen()
        persona, publication = await request_publish(principal, PersonaId(persona_id), version_id)
        return PublicationOut.of(persona, publication)

    @get(
        "/{persona_id:str}/publication",
        operation_id="GetPublication",
        responses=READ,
        summary="The persona's publication state",
    )
    async def get_publication(
        self, principal: Me, persona_id: Id, get_publication: Injected[GetPublication]
    ) -> PublicationOut:
        persona, publication = await get_publication(principal, PersonaId(persona_id))
        return PublicationOut.of(persona, publication)

    @delete(
        "/{persona_id:str}/publication",
        operation_id="UnpublishPersona",
        responses=UNPUBLISH,
        summary="Unpublish (the slug and classification are kept for a later publish)",
    )
    async def unpublish_persona(
        self, principal: Me, persona_id: Id, unpublish: Injected[Unpublish]
    ) -> None:
        await unpublish(principal, PersonaId(persona_id))


class PublicCatalogController(Controller):
    """`/v1/public/personas`: published personas, for everyone."""

    path = "/v1/public/personas"
    tags = ["public catalog"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        "/",
        operation_id="ListPublicPersonas",
        responses=problem_responses(400, 401, 422),
        summary="The public catalog, newest first (only `sfw` unless `include_nsfw`)",
    )
    async def list_public_personas(  # noqa: PLR0913 - one parameter per filter
        self,
        *,
        browse_catalog: Injected[BrowseCatalog],
        q: Annotated[
            str | None,
            QueryParameter(
                description=f"in the name, headline or a tag (at most {QUERY_LIMIT} characters)"
            ),
        ] = None,
        tags: TagList = None,
        exclude_tags: TagList = None,
        gender: Annotated[GenderName | None, QueryParameter(description="one gender")] = None,
        include_nsfw: Annotated[
            bool, QueryParameter(description="also `suggestive` and `explicit` personas")
        ] = False,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> PublicCatalogPageOut:
        query = CatalogQuery.parse(
            q=q, tags=tags, exclude_tags=exclude_tags, gender=gender, include_nsfw=include_nsfw
        )
        page = PageRequest.parse(
            limit, cursor, default=CATALOG_DEFAULT_LIMIT, maximum=CATALOG_MAX_LIMIT
        )
        return PublicCatalogPageOut.of(await browse_catalog(query, page))

    @get(
        "/{slug:str}",
        operation_id="GetPublicPersona",
        responses=problem_responses(400, 401, 404),
        summary="A public persona by slug, with its public version",
    )
    async def get_public_persona(
        self, slug: Id, get_public_persona: Injected[GetPublicPersona]
    ) -> PublicPersonaOut:
        return PublicPersonaOut.of(await get_public_persona(slug))
