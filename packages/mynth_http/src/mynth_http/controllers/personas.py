"""Owner routes of personas: create, read, edit as versions, revert, clone, delete, events."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from mynth_core.identity import Principal
from mynth_core.ids import PersonaId, VersionId
from mynth_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from mynth_core.personas.services import (
    ClonePersona,
    CreatePersona,
    DeletePersona,
    EditPersona,
    GetPersona,
    GetVersion,
    ListPersonaEvents,
    ListPersonas,
    ListVersions,
    RevertPersona,
)
from mynth_http.di import Injected
from mynth_http.problems import problem_responses
from mynth_http.ratelimit import admit_creation
from mynth_http.schemas.personas import (
    CreatePersonaIn,
    EditPersonaIn,
    EventPageOut,
    PersonaOut,
    PersonaPageOut,
    SetCurrentVersionIn,
    VersionListOut,
    VersionOut,
)

Me = Injected[Principal]
Id = FromPath[str]
Query = Annotated[str | None, QueryParameter(description="searches title and name")]
Limit = Annotated[
    int | None, QueryParameter(ge=1, le=MAX_LIMIT, description=f"default {DEFAULT_LIMIT}")
]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")]

LIST = problem_responses(400, 401, 422)
READ = problem_responses(400, 401, 404, 422)
WRITE = problem_responses(400, 401, 404, 413, 415, 422)
CREATE = problem_responses(400, 401, 404, 413, 415, 422, 429)
EDIT = problem_responses(400, 401, 404, 409, 413, 415, 422)


class PersonaController(Controller):
    """`/v1/personas`: the caller's own personas (someone else's read as 404)."""

    path = "/v1/personas"
    tags = ["personas"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/", operation_id="CreatePersona", responses=CREATE, summary="Create from data")
    async def create_persona(
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        data: JSONBody[CreatePersonaIn],
        create_persona: Injected[CreatePersona],
    ) -> PersonaOut:
        await admit_creation(request, principal)
        persona = await create_persona(principal, data.data.to_data(), data.title)
        return PersonaOut.of(persona)

    @get("/", operation_id="ListPersonas", responses=LIST, summary="List own personas")
    async def list_personas(
        self,
        principal: Me,
        list_personas: Injected[ListPersonas],
        q: Query = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> PersonaPageOut:
        page = await list_personas(principal, q, PageRequest.parse(limit, cursor))
        return PersonaPageOut.of(page)

    @get("/{persona_id:str}", operation_id="GetPersona", responses=READ, summary="Get a persona")
    async def get_persona(
        self, principal: Me, persona_id: Id, get_persona: Injected[GetPersona]
    ) -> PersonaOut:
        return PersonaOut.of(await get_persona(principal, PersonaId(persona_id)))

    @delete("/{persona_id:str}", operation_id="DeletePersona", responses=READ, summary="Delete")
    async def delete_persona(
        self, principal: Me, persona_id: Id, delete_persona: Injected[DeletePersona]
    ) -> None:
        await delete_persona(principal, PersonaId(persona_id))

    @get(
        "/{persona_id:str}/versions",
        operation_id="ListPersonaVersions",
        responses=READ,
        summary="List versions, oldest first",
    )
    async def list_versions(
        self, principal: Me, persona_id: Id, list_versions: Injected[ListVersions]
    ) -> VersionListOut:
        return VersionListOut.of(await list_versions(principal, PersonaId(persona_id)))

    @get(
        "/{persona_id:str}/versions/{version_id:str}",
        operation_id="GetPersonaVersion",
        responses=READ,
        summary="Get a version by id, or `current`",
    )
    async def get_version(
        self, principal: Me, persona_id: Id, version_id: Id, get_version: Injected[GetVersion]
    ) -> VersionOut:
        return VersionOut.of(await get_version(principal, PersonaId(persona_id), version_id))

    @post(
        "/{persona_id:str}/versions",
        operation_id="EditPersona",
        responses=EDIT,
        summary="Edit: the given fields become a new current version",
    )
    async def edit_persona(
        self,
        principal: Me,
        persona_id: Id,
        data: JSONBody[EditPersonaIn],
        edit_persona: Injected[EditPersona],
    ) -> VersionOut:
        version = await edit_persona(principal, PersonaId(persona_id), data.to_request())
        return VersionOut.of(version)

    @put(
        "/{persona_id:str}/current-version",
        operation_id="SetCurrentPersonaVersion",
        responses=WRITE,
        summary="Revert: make an existing version current",
    )
    async def revert_persona(
        self,
        principal: Me,
        persona_id: Id,
        data: JSONBody[SetCurrentVersionIn],
        revert_persona: Injected[RevertPersona],
    ) -> PersonaOut:
        to = VersionId(data.version_id)
        return PersonaOut.of(await revert_persona(principal, PersonaId(persona_id), to))

    @post(
        "/{persona_id:str}/clone",
        operation_id="ClonePersona",
        responses=CREATE,
        summary="Clone an own or public persona",
    )
    async def clone_persona(
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        persona_id: Id,
        clone_persona: Injected[ClonePersona],
    ) -> PersonaOut:
        await admit_creation(request, principal)
        return PersonaOut.of(await clone_persona(principal, PersonaId(persona_id)))

    @get(
        "/{persona_id:str}/events",
        operation_id="ListPersonaEvents",
        responses=READ,
        summary="List events, newest first",
    )
    async def list_persona_events(
        self,
        principal: Me,
        persona_id: Id,
        list_persona_events: Injected[ListPersonaEvents],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> EventPageOut:
        page = PageRequest.parse(limit, cursor)
        return EventPageOut.of(await list_persona_events(principal, PersonaId(persona_id), page))
