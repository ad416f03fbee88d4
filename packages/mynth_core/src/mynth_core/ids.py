"""Prefixed, URL-safe random ids and the IdFactory port."""

from __future__ import annotations

import secrets
from typing import NewType, Protocol

UserId = NewType("UserId", str)  # the identity provider's `sub`, as issued
PersonaId = NewType("PersonaId", str)  # prs_
VersionId = NewType("VersionId", str)  # prv_
EventId = NewType("EventId", str)  # pev_
ChatId = NewType("ChatId", str)  # pch_
MessageId = NewType("MessageId", str)  # msg_
ImageJobId = NewType("ImageJobId", str)  # igj_
ImageId = NewType("ImageId", str)  # img_
JobId = NewType("JobId", str)  # job_

PERSONA = "prs"
VERSION = "prv"
EVENT = "pev"
CHAT = "pch"
MESSAGE = "msg"
IMAGE_JOB = "igj"
IMAGE = "img"
JOB = "job"


class IdFactory(Protocol):
    """**Port**: mints new opaque ids `<prefix>_<random>`; never repeats an id."""

    def new(self, prefix: str) -> str: ...


class RandomIdFactory:
    """128 bits from the OS CSPRNG, base32-free URL-safe text."""

    def new(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_urlsafe(16)}"
