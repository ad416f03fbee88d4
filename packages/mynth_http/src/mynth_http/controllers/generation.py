"""Persona generation routes: generate (anonymous or signed in), enhance, property actions.

Each answers once with JSON when generation ends, or streams Server-Sent Events when the
request says `Accept: text/event-stream`: `partial` events, then one `done` or `error`.
Rate limits are checked first, then the use case checks and charges; only then does the
stream start, so a 402/404/422/429 is an ordinary problem response.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, post
from litestar.params import FromPath, HeaderParameter, JSONBody

from mynth_core.errors import AuthenticationRequiredError
from mynth_core.generation.runs import Generation
from mynth_core.identity import Principal
from mynth_core.ids import PersonaId
from mynth_core.personas.generation import EnhancePersona, GeneratePersona
from mynth_core.personas.prompts import PropertyAction
from mynth_core.personas.properties import RunPropertyAction
from mynth_http.di import Injected
from mynth_http.problems import problem_responses
from mynth_http.ratelimit import admit_anonymous_generation, admit_creation
from mynth_http.schemas.generation import (
    EnhanceIn,
    GeneratedOut,
    GenerateIn,
    NoChangeOut,
    PropertyActionIn,
    SketchedOut,
    enhanced_out,
    partial_event,
    version_out,
)
from mynth_http.schemas.personas import VersionOut
from mynth_http.streaming import GenerationRunner, Shapes, wants_event_stream

T = TypeVar("T")

Id = FromPath[str]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="a repeated key returns the first result and never charges twice",
        required=False,
    ),
]
GENERATE = problem_responses(400, 401, 402, 404, 409, 413, 415, 422, 429, 502, 503, 504)
PROPERTY = problem_responses(400, 401, 404, 413, 415, 422, 429, 502, 503, 504)
STREAM_NOTE = (
    "With `Accept: text/event-stream` the answer is an event stream: `partial` events, then "
    "exactly one `done` (this route's JSON answer) or `error` (a problem-details object)."
)


async def respond(
    request: Request[Any, Any, Any],
    generation: Generation[T],
    shapes: Shapes[T],
    *,
    status: int,
    detached: bool = True,
) -> Response[Any]:
    """Stream the generation as SSE, or wait for it and answer with JSON and `status`."""
    runner: GenerationRunner = request.app.state.runner
    if wants_event_stream(request):
        return runner.stream(generation, shapes, detached=detached)
    result = await runner.result(generation)
    return Response(shapes.done(result), status_code=status)


class GenerationController(Controller):
    """`/v1/personas/...`: model-written personas and versions."""

    path = "/v1/personas"
    tags = ["personas"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/generate",
        operation_id="GeneratePersona",
        responses=GENERATE,
        summary="Generate a persona from a prompt",
        description=(
            "Anonymous: 200 `{persona: {title, data, ai_note}}`, free, nothing stored. Signed "
            "in: 201 `{persona, version}` for 1 token; with `persona_id`, a new version of "
            "that persona. " + STREAM_NOTE
        ),
    )
    async def generate_persona(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal | None],
        data: JSONBody[GenerateIn],
        generate_persona: Injected[GeneratePersona],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SketchedOut | GeneratedOut]:
        if principal is None:
            if data.persona_id is not None:
                raise AuthenticationRequiredError
            await admit_anonymous_generation(request)
            sketch = await generate_persona.sketch(data.to_request())
            shapes = Shapes(partial_event, SketchedOut.of)
            return await respond(request, sketch, shapes, status=200, detached=False)
        await admit_creation(request, principal)
        made = await generate_persona(principal, data.to_request(), idempotency_key=idempotency_key)
        status = 200 if made.replayed else 201
        return await respond(request, made, Shapes(partial_event, GeneratedOut.of), status=status)

    @post(
        "/{persona_id:str}/enhance",
        operation_id="EnhancePersona",
        responses=GENERATE,
        summary="Enhance a persona with a free-text instruction",
        description=(
            "201 with the new version (source `enhance`) for 1 token; 200 "
            '`{outcome: "no_change"}` and a refund when nothing changed. ' + STREAM_NOTE
        ),
    )
    async def enhance_persona(  # noqa: PLR0913, PLR0917 - Litestar injects each by name
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        persona_id: Id,
        data: JSONBody[EnhanceIn],
        enhance_persona: Injected[EnhancePersona],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[VersionOut | NoChangeOut]:
        await admit_creation(request, principal)
        enhancing = await enhance_persona(
            principal, PersonaId(persona_id), data.prompt, idempotency_key=idempotency_key
        )
        status = 200 if enhancing.replayed else 201
        if not wants_event_stream(request):
            result = await request.app.state.runner.result(enhancing)
            body = enhanced_out(result)
            return Response(body, status_code=200 if result.no_change else status)
        return await respond(request, enhancing, Shapes(partial_event, enhanced_out), status=status)

    @post(
        "/{persona_id:str}/property-actions",
        operation_id="RunPropertyAction",
        responses=PROPERTY,
        summary="Expand, rewrite or create one property",
        description="201 with the new version (source `property`); free. " + STREAM_NOTE,
    )
    async def run_property_action(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        persona_id: Id,
        data: JSONBody[PropertyActionIn],
        run_property_action: Injected[RunPropertyAction],
    ) -> Response[VersionOut]:
        await admit_creation(request, principal)
        running = await run_property_action(
            principal, PersonaId(persona_id), data.property, PropertyAction(data.action)
        )
        return await respond(request, running, Shapes(partial_event, version_out), status=201)
