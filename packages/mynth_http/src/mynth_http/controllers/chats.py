"""Chat routes (API.md "Chats"): chats, their message trees, and streamed replies.

Reply routes answer 201 with the stored messages when generation ends, or stream SSE with
`Accept: text/event-stream`: `message` (the new ids), `delta` (text), `chapter` (story),
then exactly one `done` (the same JSON) or `error`. A reply survives a client disconnect:
it is stored, or refunded on failure.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UnsetType

from mynth_core.chats.catalogue import ChatCatalogue
from mynth_core.chats.model import ChatSettings
from mynth_core.chats.operations import ContinueReply, EditMessage, RegenerateReply, SendMessage
from mynth_core.chats.replies import ReplyResult
from mynth_core.chats.services import (
    CreateChat,
    DeleteChat,
    GetChat,
    ListChats,
    ReadThread,
    SwitchLeaf,
    UpdateChat,
    UpgradeChat,
)
from mynth_core.clock import Clock
from mynth_core.generation.runs import Generation
from mynth_core.identity import Principal
from mynth_core.ids import ChatId, MessageId, PersonaId
from mynth_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from mynth_core.pricing import ChatMode, PriceTable
from mynth_http.controllers.generation import IdempotencyKey
from mynth_http.di import Injected
from mynth_http.problems import problem_responses
from mynth_http.schemas.chats import (
    ChatModelOut,
    ChatOut,
    ChatPageOut,
    CreateChatIn,
    EditMessageIn,
    ReplyOut,
    SendMessageIn,
    SwitchLeafIn,
    ThreadOut,
    UpdateChatIn,
    chat_models_out,
    page_out,
    reply_event,
)
from mynth_http.streaming import GenerationRunner, Shapes, wants_event_stream

Me = Injected[Principal]
Id = FromPath[str]
Limit = Annotated[
    int | None, QueryParameter(ge=1, le=MAX_LIMIT, description=f"default {DEFAULT_LIMIT}")
]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")]
READ = problem_responses(400, 401, 404, 422)
WRITE = problem_responses(400, 401, 404, 409, 413, 415, 422)
REPLY = problem_responses(400, 401, 402, 404, 409, 413, 415, 422, 429, 502, 503, 504)
SHAPES: Shapes[ReplyResult] = Shapes(reply_event, ReplyOut.of)


async def answer(
    request: Request[Any, Any, Any], generation: Generation[ReplyResult]
) -> Response[Any]:
    """Stream the reply as SSE, or wait for it and answer 201 with what was stored."""
    runner: GenerationRunner = request.app.state.runner
    if wants_event_stream(request):
        return runner.stream(generation, SHAPES, detached=True)
    return Response(ReplyOut.of(await runner.result(generation)), status_code=201)


class ChatModelsController(Controller):
    """`/v1/chat-models`: the models a chat can use, with their per-reply cost."""

    path = "/v1/chat-models"
    tags = ["chats"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", operation_id="ListChatModels", summary="List chat models")
    async def list_chat_models(
        self, chat_catalogue: Injected[ChatCatalogue], price_table: Injected[PriceTable]
    ) -> list[ChatModelOut]:
        return chat_models_out(chat_catalogue, price_table)


class ChatController(Controller):
    """`/v1/chats`: the caller's chats (someone else's read as 404)."""

    path = "/v1/chats"
    tags = ["chats"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/", operation_id="CreateChat", responses=WRITE, summary="Start a chat")
    async def create_chat(
        self,
        principal: Me,
        data: JSONBody[CreateChatIn],
        create_chat: Injected[CreateChat],
        clock: Injected[Clock],
        chat_catalogue: Injected[ChatCatalogue],
    ) -> ChatOut:
        settings = None
        if data.settings is not None:
            settings = data.settings.over(ChatSettings(model=chat_catalogue.default))
        chat = await create_chat(
            principal,
            PersonaId(data.persona_id),
            mode=ChatMode(data.mode),
            title=data.title,
            settings=settings,
        )
        return ChatOut.of(chat, now=clock.now())

    @get("/", operation_id="ListChats", responses=READ, summary="List own chats")
    async def list_chats(  # noqa: PLR0913, PLR0917 - Litestar injects each by name
        self,
        principal: Me,
        list_chats: Injected[ListChats],
        clock: Injected[Clock],
        q: Annotated[str | None, QueryParameter(description="searches the title")] = None,
        persona_id: Annotated[str | None, QueryParameter(description="only this persona's")] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> ChatPageOut:
        page = await list_chats(
            principal,
            PageRequest.parse(limit, cursor),
            query=q,
            persona_id=None if persona_id is None else PersonaId(persona_id),
        )
        return page_out(page, now=clock.now())

    @get("/{chat_id:str}", operation_id="GetChat", responses=READ, summary="Get a chat")
    async def get_chat(
        self, principal: Me, chat_id: Id, get_chat: Injected[GetChat], clock: Injected[Clock]
    ) -> ChatOut:
        return ChatOut.of(await get_chat(principal, ChatId(chat_id)), now=clock.now())

    @patch("/{chat_id:str}", operation_id="UpdateChat", responses=WRITE, summary="Update a chat")
    async def update_chat(  # noqa: PLR0913, PLR0917 - Litestar injects each by name
        self,
        principal: Me,
        chat_id: Id,
        data: JSONBody[UpdateChatIn],
        get_chat: Injected[GetChat],
        update_chat: Injected[UpdateChat],
        clock: Injected[Clock],
    ) -> ChatOut:
        current = await get_chat(principal, ChatId(chat_id))
        chat = await update_chat(principal, ChatId(chat_id), data.to_patch(current.settings))
        return ChatOut.of(chat, now=clock.now())

    @delete("/{chat_id:str}", operation_id="DeleteChat", responses=WRITE, summary="Delete a chat")
    async def delete_chat(
        self, principal: Me, chat_id: Id, delete_chat: Injected[DeleteChat]
    ) -> None:
        await delete_chat(principal, ChatId(chat_id))

    @post(
        "/{chat_id:str}/upgrade",
        operation_id="UpgradeChat",
        responses=WRITE,
        summary="Re-pin to the newest version you may read",
        status_code=200,
    )
    async def upgrade_chat(
        self,
        principal: Me,
        chat_id: Id,
        upgrade_chat: Injected[UpgradeChat],
        clock: Injected[Clock],
    ) -> ChatOut:
        return ChatOut.of(await upgrade_chat(principal, ChatId(chat_id)), now=clock.now())

    @get(
        "/{chat_id:str}/messages",
        operation_id="ReadChatThread",
        responses=READ,
        summary="The branch root → leaf, newest last",
    )
    async def read_thread(
        self,
        principal: Me,
        chat_id: Id,
        read_thread: Injected[ReadThread],
        leaf_id: Annotated[str | None, QueryParameter(description="another branch's leaf")] = None,
        limit: Annotated[
            int | None, QueryParameter(description="the newest N (1-200, default 50)")
        ] = None,
    ) -> ThreadOut:
        thread = await read_thread(
            principal,
            ChatId(chat_id),
            leaf_id=None if leaf_id is None else MessageId(leaf_id),
            limit=limit,
        )
        return ThreadOut.of(thread)

    @post(
        "/{chat_id:str}/messages",
        operation_id="SendChatMessage",
        responses=REPLY,
        summary="Send a message and get the reply",
    )
    async def send_message(  # noqa: PLR0913, PLR0917 - Litestar injects each by name
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        chat_id: Id,
        data: JSONBody[SendMessageIn],
        send_message: Injected[SendMessage],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReplyOut]:
        given = not isinstance(data.parent_id, UnsetType)
        parent = data.parent_id if given and isinstance(data.parent_id, str) else None
        generation = await send_message(
            principal,
            ChatId(chat_id),
            data.content,
            parent_id=None if parent is None else MessageId(parent),
            use_active_leaf=not given,
            idempotency_key=idempotency_key,
        )
        return await answer(request, generation)

    @post(
        "/{chat_id:str}/messages/{message_id:str}/regenerate",
        operation_id="RegenerateChatReply",
        responses=REPLY,
        summary="A new reply as a sibling",
    )
    async def regenerate_reply(  # noqa: PLR0913, PLR0917 - Litestar injects each by name
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        chat_id: Id,
        message_id: Id,
        regenerate_reply: Injected[RegenerateReply],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReplyOut]:
        generation = await regenerate_reply(
            principal, ChatId(chat_id), MessageId(message_id), idempotency_key=idempotency_key
        )
        return await answer(request, generation)

    @post(
        "/{chat_id:str}/messages/{message_id:str}/edit",
        operation_id="EditChatMessage",
        responses=REPLY,
        summary="Edit as a sibling (a user message gets a new reply)",
    )
    async def edit_message(  # noqa: PLR0913, PLR0917 - Litestar injects each by name
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        chat_id: Id,
        message_id: Id,
        data: JSONBody[EditMessageIn],
        edit_message: Injected[EditMessage],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReplyOut]:
        generation = await edit_message(
            principal,
            ChatId(chat_id),
            MessageId(message_id),
            data.content,
            idempotency_key=idempotency_key,
        )
        return await answer(request, generation)

    @post(
        "/{chat_id:str}/continue",
        operation_id="ContinueChatReply",
        responses=REPLY,
        summary="Continue the active reply",
    )
    async def continue_reply(
        self,
        request: Request[Any, Any, Any],
        principal: Me,
        chat_id: Id,
        continue_reply: Injected[ContinueReply],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReplyOut]:
        generation = await continue_reply(
            principal, ChatId(chat_id), idempotency_key=idempotency_key
        )
        return await answer(request, generation)

    @put(
        "/{chat_id:str}/leaf",
        operation_id="SwitchChatLeaf",
        responses=WRITE,
        summary="Switch the active branch",
    )
    async def switch_leaf(
        self,
        principal: Me,
        chat_id: Id,
        data: JSONBody[SwitchLeafIn],
        switch_leaf: Injected[SwitchLeaf],
        clock: Injected[Clock],
    ) -> ChatOut:
        chat = await switch_leaf(principal, ChatId(chat_id), MessageId(data.message_id))
        return ChatOut.of(chat, now=clock.now())
