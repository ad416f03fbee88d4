"""What a chat reply's generation reports while it runs (before its stored result)."""

from __future__ import annotations

import attrs

from mynth_core.generation.runs import Progress
from mynth_core.ids import MessageId


@attrs.frozen
class MessagesCreated(Progress):
    """The ids of the new user message (if any) and of the reply being written."""

    user_message_id: MessageId | None
    reply_id: MessageId


@attrs.frozen
class Delta(Progress):
    """A piece of the reply's text."""

    text: str


@attrs.frozen
class ChapterStarted(Progress):
    """A story reply's chapter, once its heading line has been read."""

    number: int
    title: str
