"""Chat use cases without generation: create, read, update, delete, upgrade, branches."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Final

import attrs

from mynth_core.chats.catalogue import ChatCatalogue
from mynth_core.chats.model import (
    Chat,
    ChatSettings,
    Message,
    Pin,
    check_title,
)
from mynth_core.chats.ports import Siblings
from mynth_core.clock import Clock
from mynth_core.errors import GenerationInProgressError, NotFoundError, ValidationError
from mynth_core.identity import Principal
from mynth_core.ids import CHAT, ChatId, IdFactory, MessageId, PersonaId
from mynth_core.pagination import Page, PageRequest
from mynth_core.personas.model import Persona
from mynth_core.pricing import ChatMode
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

THREAD_DEFAULT: Final = 50
THREAD_MAX: Final = 200


@attrs.frozen(kw_only=True)
class ChatPatch:
    """A partial update: only the given values change (`settings` holds the new settings)."""

    title: str | None = None
    mode: ChatMode | None = None
    settings: ChatSettings | None = None


@attrs.frozen(kw_only=True)
class Thread:
    """A branch of a chat, root → leaf (newest last), with each message's siblings."""

    leaf_id: MessageId | None
    messages: tuple[Message, ...]
    siblings: Mapping[MessageId, Siblings]


async def readable_pin(
    uow: UnitOfWork, who: Principal, persona_id: PersonaId
) -> tuple[Pin, Persona]:
    """The version `who` may chat with (with the persona's name there), and the persona.

    Own persona: its current version; someone else's public persona: its public version.

    Raises:
        NotFoundError: deleted, or private and not the caller's.
    """
    persona = await uow.personas.get(persona_id)
    version_id = persona.readable_version_for(who.user_id)
    version = await uow.personas.version(persona_id, version_id)
    return Pin(persona_id, version_id, version.version_number, version.data.name), persona


def check_nsfw_allowed(settings: ChatSettings, persona: Persona) -> None:
    """§6.2: explicit levels are refused with a persona classified as a minor.

    Raises:
        ValidationError: on `settings.nsfw_level`.
    """
    if settings.nsfw.is_explicit and persona.publication.classified_minor:
        raise ValidationError.single(
            "settings.nsfw_level",
            "explicit levels are not allowed with a persona classified as under 18",
        )


@attrs.frozen
class CreateChat:
    """Start a chat with an own or public persona, pinned to the version the caller may read."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    catalogue: ChatCatalogue

    async def __call__(
        self,
        who: Principal,
        persona_id: PersonaId,
        *,
        mode: ChatMode = ChatMode.ROLEPLAY,
        title: str | None = None,
        settings: ChatSettings | None = None,
    ) -> Chat:
        """Raises: NotFoundError, ValidationError, UnknownModelError."""
        chosen = (settings or ChatSettings(model=self.catalogue.default)).check()
        self.catalogue.entry(chosen.model)
        if title is not None:
            check_title(title)
        at = self.clock.now()
        async with self.uow() as uow:
            pin, persona = await readable_pin(uow, who, persona_id)
            check_nsfw_allowed(chosen, persona)
            chat = Chat(
                id=ChatId(self.ids.new(CHAT)),
                owner_id=who.user_id,
                title=title or pin.name[:120],
                mode=mode,
                pin=pin,
                settings=chosen,
                created_at=at,
                updated_at=at,
            )
            await uow.chats.add(chat)
            await uow.commit()
        return chat


@attrs.frozen
class ListChats:
    """The caller's chats, most recently updated first."""

    uow: UnitOfWorkFactory

    async def __call__(
        self,
        who: Principal,
        page: PageRequest,
        *,
        query: str | None = None,
        persona_id: PersonaId | None = None,
    ) -> Page[Chat]:
        async with self.uow(read_only=True) as uow:
            return await uow.chats.list_owned(
                who.user_id, query=query or None, persona_id=persona_id, page=page
            )


@attrs.frozen
class GetChat:
    """One of the caller's chats."""

    uow: UnitOfWorkFactory

    async def __call__(self, who: Principal, chat_id: ChatId) -> Chat:
        async with self.uow(read_only=True) as uow:
            return await uow.chats.get(chat_id, owner=who.user_id)


@attrs.frozen
class UpdateChat:
    """Change a chat's title, mode or settings; applies from the next generation on."""

    uow: UnitOfWorkFactory
    clock: Clock
    catalogue: ChatCatalogue

    async def __call__(self, who: Principal, chat_id: ChatId, patch: ChatPatch) -> Chat:
        """Raises: NotFoundError, ValidationError, UnknownModelError."""
        values: dict[str, object] = {}
        if patch.title is not None:
            values["title"] = check_title(patch.title)
        if patch.mode is not None:
            values["mode"] = patch.mode
        if patch.settings is not None:
            values["settings"] = patch.settings.check()
            self.catalogue.entry(patch.settings.model)
        async with self.uow() as uow:
            chat = await uow.chats.get(chat_id, owner=who.user_id)
            if not values:
                return chat
            if patch.settings is not None and patch.settings.nsfw.is_explicit:
                with suppress(NotFoundError):  # a deleted persona chats no more anyway
                    check_nsfw_allowed(patch.settings, await uow.personas.get(chat.pin.persona_id))
            chat = chat.changed(values, at=self.clock.now())
            await uow.chats.save(chat)
            await uow.commit()
        return chat


@attrs.frozen
class DeleteChat:
    """Remove a chat and its messages for good (not while a generation runs)."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal, chat_id: ChatId) -> None:
        """Raises: NotFoundError, GenerationInProgressError."""
        async with self.uow() as uow:
            chat = await uow.chats.get(chat_id, owner=who.user_id)
            if chat.generating(self.clock.now()):
                raise GenerationInProgressError(detail="a generation is running in this chat")
            await uow.chats.delete(chat_id)
            await uow.commit()


@attrs.frozen
class UpgradeChat:
    """Re-pin a chat to the newest version its owner may read (own: current; else public)."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal, chat_id: ChatId) -> Chat:
        """Raises: NotFoundError (also when someone else's persona is no longer public)."""
        async with self.uow() as uow:
            chat = await uow.chats.get(chat_id, owner=who.user_id)
            pin, _ = await readable_pin(uow, who, chat.pin.persona_id)
            if pin == chat.pin:
                return chat
            chat = chat.changed({"pin": pin}, at=self.clock.now())
            await uow.chats.save(chat)
            await uow.commit()
        return chat


@attrs.frozen
class SwitchLeaf:
    """Make a branch active: the leaf reached from a message by its newest children."""

    uow: UnitOfWorkFactory

    async def __call__(self, who: Principal, chat_id: ChatId, message_id: MessageId) -> Chat:
        """Raises: NotFoundError (unknown chat or message)."""
        async with self.uow() as uow:
            chat = await uow.chats.get(chat_id, owner=who.user_id)
            leaf = await uow.chats.newest_leaf(chat_id, message_id)
            chat = attrs.evolve(chat, leaf_id=leaf)
            await uow.chats.save(chat)
            await uow.commit()
        return chat


@attrs.frozen
class ReadThread:
    """The path root → leaf (the active one unless given), newest `limit` messages."""

    uow: UnitOfWorkFactory

    async def __call__(
        self,
        who: Principal,
        chat_id: ChatId,
        *,
        leaf_id: MessageId | None = None,
        limit: int | None = None,
    ) -> Thread:
        """Raises: NotFoundError, ValidationError (`limit` outside 1-200)."""
        count = THREAD_DEFAULT if limit is None else limit
        if not 1 <= count <= THREAD_MAX:
            raise ValidationError.single("limit", f"must be between 1 and {THREAD_MAX}")
        async with self.uow(read_only=True) as uow:
            chat = await uow.chats.get(chat_id, owner=who.user_id)
            leaf = leaf_id or chat.leaf_id
            if leaf is None:
                return Thread(leaf_id=None, messages=(), siblings={})
            messages = await uow.chats.path(chat_id, leaf, limit=count)
            siblings = await uow.chats.siblings(chat_id, messages)
        return Thread(leaf_id=leaf, messages=messages, siblings=siblings)
