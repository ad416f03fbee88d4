"""Persona request and response shapes, and the domain → response mappers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, cast

import msgspec
from msgspec import UNSET, UnsetType

from mynth_core.errors import FieldError, ValidationError
from mynth_core.ids import VersionId
from mynth_core.pagination import Page
from mynth_core.personas.events import StoredEvent, event_data, event_type
from mynth_core.personas.fields import (
    FIELD_LIMITS,
    MAX_EXTENSION_VALUE,
    MAX_EXTENSIONS,
    NOTE_LIMIT,
    TEXT_FIELDS,
    TITLE_LIMIT,
    PersonaData,
    PersonaPatch,
)
from mynth_core.personas.model import Persona, PersonaVersion
from mynth_core.personas.properties import suggested_properties
from mynth_core.personas.services import EditRequest
from mynth_core.publishing.model import Publication, Tag
from mynth_http.schemas.common import Timestamp, documented, rfc3339
from mynth_http.schemas.images import content_url

# Limits are documented here and enforced by the core, which names every offending field
# (msgspec would stop at the first one). Extension values are type-checked here, by key,
# because msgspec cannot say which key of a map held the bad value.
_KEY_PATTERN = "^[a-z0-9_]{1,64}$"
_KEY_RULE = "keys: 1-64 characters of a-z, 0-9 and _"
_EXTENSION_VALUE = {"type": "string", "maxLength": MAX_EXTENSION_VALUE}
Name = Annotated[str, documented(maxLength=FIELD_LIMITS["name"])]
LongText = Annotated[str, documented(maxLength=FIELD_LIMITS["appearance"])]
Summary = Annotated[str, documented(maxLength=FIELD_LIMITS["summary"])]
Title = Annotated[str, documented("defaults to the persona name", maxLength=TITLE_LIMIT)]
Note = Annotated[str, documented("stored as the version's user_message", maxLength=NOTE_LIMIT)]
Extensions = Annotated[
    dict[str, object],
    documented(
        _KEY_RULE,
        maxProperties=MAX_EXTENSIONS,
        propertyNames={"pattern": _KEY_PATTERN},
        additionalProperties=_EXTENSION_VALUE,
    ),
]
ExtensionsPatch = Annotated[
    dict[str, object],
    documented(
        f"merged into the current extensions; null removes a key ({_KEY_RULE})",
        propertyNames={"pattern": _KEY_PATTERN},
        additionalProperties={"oneOf": [_EXTENSION_VALUE, {"type": "null"}]},
    ),
]


def _extensions(values: Mapping[str, object], *, nullable: bool) -> dict[str, str | None]:
    """`values` once every value is a string (or null, in a patch); else all offenders."""
    expected = "must be a string or null" if nullable else "must be a string"
    errors = [
        FieldError(f"data.extensions.{key}", expected)
        for key, value in values.items()
        if not isinstance(value, str) and not (nullable and value is None)
    ]
    if errors:
        raise ValidationError(tuple(errors))
    return cast("dict[str, str | None]", dict(values))


class PersonaDataIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Complete persona data (PRODUCT.md §4.1)."""

    name: Name
    age: LongText
    gender: LongText
    appearance: LongText
    personality: LongText
    background: LongText
    summary: Summary
    occupation: LongText | None = None
    extensions: Extensions = msgspec.field(default_factory=dict)

    def to_data(self) -> PersonaData:
        fields = {name: getattr(self, name) for name in TEXT_FIELDS}
        extensions = cast("dict[str, str]", _extensions(self.extensions, nullable=False))
        return PersonaData.parse(fields, extensions)


class PersonaDataPatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields to change: a given field replaces, null removes an optional one."""

    name: Name | UnsetType | None = UNSET
    age: LongText | UnsetType | None = UNSET
    gender: LongText | UnsetType | None = UNSET
    appearance: LongText | UnsetType | None = UNSET
    personality: LongText | UnsetType | None = UNSET
    background: LongText | UnsetType | None = UNSET
    summary: Summary | UnsetType | None = UNSET
    occupation: LongText | UnsetType | None = UNSET
    extensions: ExtensionsPatch = msgspec.field(default_factory=dict)

    def to_patch(self) -> PersonaPatch:
        given = {name: getattr(self, name) for name in TEXT_FIELDS}
        fields = {name: value for name, value in given.items() if value is not UNSET}
        return PersonaPatch.of(fields, _extensions(self.extensions, nullable=True))


class CreatePersonaIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new persona from structured data."""

    data: PersonaDataIn
    title: Title | None = None


class EditPersonaIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A manual edit, written as a new version."""

    data: PersonaDataPatchIn = msgspec.field(default_factory=PersonaDataPatchIn)
    title: Title | None = None
    note: Note | None = None
    base_version_id: Annotated[
        str | None, documented("409 version-conflict unless this is the current version")
    ] = None

    def to_request(self) -> EditRequest:
        base = None if self.base_version_id is None else VersionId(self.base_version_id)
        return EditRequest(
            patch=self.data.to_patch(), title=self.title, note=self.note, base_version_id=base
        )


class SetCurrentVersionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which existing version becomes current (a revert)."""

    version_id: str


class PersonaDataOut(msgspec.Struct, kw_only=True):
    """The content of a version."""

    name: str
    age: str
    gender: str
    appearance: str
    personality: str
    background: str
    summary: str
    occupation: str | None
    extensions: dict[str, str]

    @classmethod
    def of(cls, data: PersonaData) -> PersonaDataOut:
        return cls(
            name=data.name,
            age=data.age,
            gender=data.gender,
            appearance=data.appearance,
            personality=data.personality,
            background=data.background,
            summary=data.summary,
            occupation=data.occupation,
            extensions=dict(data.extension_items),
        )


class VersionOut(msgspec.Struct, kw_only=True):
    """One immutable version of a persona."""

    id: str
    persona_id: str
    version_number: int
    title: str
    data: PersonaDataOut
    source: Literal["generate", "manual", "enhance", "property", "import", "clone"]
    user_message: str | None
    ai_note: str | None
    model: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, version: PersonaVersion) -> VersionOut:
        return cls(
            id=version.id,
            persona_id=version.persona_id,
            version_number=version.version_number,
            title=version.title,
            data=PersonaDataOut.of(version.data),
            source=version.source.value,
            user_message=version.user_message,
            ai_note=version.ai_note,
            model=version.model,
            created_at=rfc3339(version.created_at),
        )


class VersionListOut(msgspec.Struct, kw_only=True):
    """Every version of a persona, oldest first."""

    items: list[VersionOut]

    @classmethod
    def of(cls, versions: tuple[PersonaVersion, ...]) -> VersionListOut:
        return cls(items=[VersionOut.of(v) for v in versions])


RatingName = Literal["sfw", "suggestive", "explicit"]
GenderName = Literal["female", "male", "other"]
AgeBucketName = Literal[
    "unknown", "0-5", "6-12", "13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65-plus"
]
TagCategoryName = Literal["appearance", "personality", "physical", "age", "style", "other"]


class TagOut(msgspec.Struct, kw_only=True):
    """A catalog tag."""

    name: str
    category: TagCategoryName

    @classmethod
    def of(cls, tag: Tag) -> TagOut:
        return cls(name=tag.name, category=tag.category.value)


class PublishErrorOut(msgspec.Struct, kw_only=True):
    """Why the last publish failed (`timeout`, `classification_failed`, `minor_nsfw_image`)."""

    code: str
    message: str
    at: Timestamp


class PublicationOut(msgspec.Struct, kw_only=True):
    """Publication state (PRODUCT.md §5.3); the classification is kept across unpublish.

    `public_version_id` is the version the catalog shows (still the old one while a
    re-publish is pending); `error` is the last publish's failure, if any.
    """

    status: Literal["none", "pending", "published", "failed"]
    slug: str | None
    headline: str | None
    nsfw_rating: RatingName | None
    gender: GenderName | None
    age_bucket: AgeBucketName | None
    tags: list[TagOut]
    public_version_id: str | None
    published_at: Timestamp | None
    error: PublishErrorOut | None

    @classmethod
    def of(cls, persona: Persona, publication: Publication | None = None) -> PublicationOut:
        """`persona`'s publication, or `publication` if a use case gave it.

        The use cases that read personas apply the lazy timeout (`Persona.as_of`) with their
        clock, so a pending publish over 10 minutes old already shows as failed here.
        """
        shown = publication or persona.publication
        classification = shown.classification
        error = shown.last_error
        return cls(
            status=shown.status.value,
            slug=shown.slug,
            headline=None if classification is None else classification.headline,
            nsfw_rating=None if classification is None else classification.nsfw_rating.value,
            gender=None if classification is None else classification.gender.value,
            age_bucket=None if classification is None else classification.age_bucket.value,
            tags=[] if classification is None else [TagOut.of(t) for t in classification.tags],
            public_version_id=persona.public_version_id if persona.is_public else None,
            published_at=None if shown.published_at is None else rfc3339(shown.published_at),
            error=None
            if error is None
            else PublishErrorOut(code=error.code, message=error.message, at=rfc3339(error.at)),
        )


class ProfileImageOut(msgspec.Struct, kw_only=True):
    """The persona's profile image."""

    id: str
    url: str
    thumbnail_url: str


class ClonedFromOut(msgspec.Struct, kw_only=True):
    """Attribution of a clone; `slug` is set while the source is public."""

    persona_id: str
    version_id: str
    slug: str | None = None


class PersonaOut(msgspec.Struct, kw_only=True):
    """A persona as its owner sees it."""

    id: str
    title: str
    visibility: Literal["private", "public"]
    current_version: VersionOut
    profile_image: ProfileImageOut | None
    publication: PublicationOut
    cloned_from: ClonedFromOut | None
    suggested_properties: list[str]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, persona: Persona) -> PersonaOut:
        source = persona.cloned_from
        return cls(
            id=persona.id,
            title=persona.title,
            visibility="public" if persona.is_public else "private",
            current_version=VersionOut.of(persona.current_version),
            profile_image=None
            if persona.profile_image_id is None
            else ProfileImageOut(
                id=persona.profile_image_id,
                url=content_url(persona.profile_image_id),
                thumbnail_url=content_url(persona.profile_image_id, thumbnail=True),
            ),
            publication=PublicationOut.of(persona),
            cloned_from=None
            if source is None
            else ClonedFromOut(
                persona_id=source.persona_id, version_id=source.version_id, slug=source.slug
            ),
            suggested_properties=list(suggested_properties(persona.current_version)),
            created_at=rfc3339(persona.created_at),
            updated_at=rfc3339(persona.updated_at),
        )


class PersonaPageOut(msgspec.Struct, kw_only=True):
    """A page of the caller's personas, most recently updated first."""

    items: list[PersonaOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Persona]) -> PersonaPageOut:
        return cls(items=[PersonaOut.of(p) for p in page.items], next_cursor=page.next_cursor)


class EventOut(msgspec.Struct, kw_only=True):
    """One entry of a persona's event log."""

    id: str
    type: str
    version_id: str | None
    data: dict[str, str | int]
    created_at: Timestamp

    @classmethod
    def of(cls, stored: StoredEvent) -> EventOut:
        data = {k: v if isinstance(v, int) else str(v) for k, v in event_data(stored.event).items()}
        version = data.get("version_id", data.get("to_version_id"))  # a revert names its target
        return cls(
            id=stored.id,
            type=event_type(stored.event),
            version_id=None if version is None else str(version),
            data=data,
            created_at=rfc3339(stored.event.at),
        )


class EventPageOut(msgspec.Struct, kw_only=True):
    """A page of persona events, newest first."""

    items: list[EventOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[StoredEvent]) -> EventPageOut:
        return cls(items=[EventOut.of(e) for e in page.items], next_cursor=page.next_cursor)
