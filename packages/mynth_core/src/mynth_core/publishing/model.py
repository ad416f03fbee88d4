"""Publication: the state machine and the classification rules (PRODUCT.md §5.1-5.3).

`none → pending → published | failed`; `failed → pending`; `published → pending` (the old
public version stays live until the new one succeeds; a failure returns to `published` with
the error); `published → none` (unpublish). A pending publish older than 10 minutes counts as
failed with `timeout`, and a late result is discarded.
"""

from __future__ import annotations

import enum
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Final

import attrs

from mynth_core.errors import ConflictError, MynthError
from mynth_core.ids import VersionId

PENDING_TIMEOUT: Final = timedelta(minutes=10)
HEADLINE_LIMIT: Final = 80
TAG_LIMIT: Final = 50
MAX_TAGS: Final = 20
ERROR_MESSAGE_LIMIT: Final = 300
SLUG_BASE_LIMIT: Final = 80
SLUG_SUFFIX: Final = 10
_NOT_TAG: Final = re.compile(r"[^a-z0-9-]+")
_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")
_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


class PublishStatus(enum.StrEnum):
    """Where a persona's publication is."""

    NONE = "none"
    PENDING = "pending"
    PUBLISHED = "published"
    FAILED = "failed"


class NsfwRating(enum.StrEnum):
    """How mature the public persona is."""

    SFW = "sfw"
    SUGGESTIVE = "suggestive"
    EXPLICIT = "explicit"


class Gender(enum.StrEnum):
    """The persona's gender as the catalog files it."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class AgeBucket(enum.StrEnum):
    """The persona's age range as the catalog files it."""

    UNKNOWN = "unknown"
    TODDLER = "0-5"
    CHILD = "6-12"
    TEEN = "13-17"
    YOUNG_ADULT = "18-24"
    ADULT_25 = "25-34"
    ADULT_35 = "35-44"
    ADULT_45 = "45-54"
    ADULT_55 = "55-64"
    SENIOR = "65-plus"

    @property
    def is_minor(self) -> bool:
        return self in {AgeBucket.TODDLER, AgeBucket.CHILD, AgeBucket.TEEN}


class TagCategory(enum.StrEnum):
    """What a tag describes."""

    APPEARANCE = "appearance"
    PERSONALITY = "personality"
    PHYSICAL = "physical"
    AGE = "age"
    STYLE = "style"
    OTHER = "other"


@attrs.frozen
class Tag:
    """A catalog tag: a normalised name and its category."""

    name: str
    category: TagCategory


@attrs.frozen(kw_only=True)
class Classification:
    """What the classifier said, after the rules of §5.2 step 3."""

    headline: str
    nsfw_rating: NsfwRating
    gender: Gender
    age_bucket: AgeBucket
    tags: tuple[Tag, ...] = ()


@attrs.frozen(kw_only=True)
class PublishError:
    """Why the last publish failed."""

    code: str
    message: str
    at: datetime


@attrs.frozen
class MinorWithNsfwImageError(MynthError):
    """A minor with an NSFW profile image cannot be published."""

    def __str__(self) -> str:
        return "a minor with an NSFW profile image cannot be published"


@attrs.frozen
class ProfileImageRequiredError(ConflictError):
    """Publishing needs a profile image."""


@attrs.frozen
class PublishInProgressError(ConflictError):
    """A publish is already pending."""


@attrs.frozen
class NotPublishedError(ConflictError):
    """Unpublish of a persona that is not published."""


@attrs.frozen(kw_only=True)
class Publication:
    """A persona's publication state; the classification is kept across unpublish."""

    status: PublishStatus = PublishStatus.NONE
    slug: str | None = None
    public_name: str | None = None
    classification: Classification | None = None
    published_at: datetime | None = None
    requested_at: datetime | None = None
    requested_version_id: VersionId | None = None
    last_error: PublishError | None = None

    @property
    def classified_minor(self) -> bool:
        """Whether the last classification put the persona in a minor age bucket."""
        return self.classification is not None and self.classification.age_bucket.is_minor

    def seen_at(self, now: datetime) -> Publication:
        """This state as of `now`: a pending publish older than 10 minutes has failed."""
        if (
            self.status is PublishStatus.PENDING
            and self.requested_at is not None
            and now - self.requested_at > PENDING_TIMEOUT
        ):
            return self.failed("timeout", "the publish did not finish within 10 minutes", now)
        return self

    def failed(self, code: str, message: str, at: datetime, *, live: bool = False) -> Publication:
        """The publish failed; back to `published` when an older public version is live."""
        error = PublishError(code=code, message=message[:ERROR_MESSAGE_LIMIT], at=at)
        status = PublishStatus.PUBLISHED if live else PublishStatus.FAILED
        return attrs.evolve(self, status=status, last_error=error, requested_version_id=None)


def clean_headline(text: str) -> str:
    """One line, trimmed, at most 80 characters."""
    return " ".join(text.split())[:HEADLINE_LIMIT].strip()


def normalise_tag(raw: str) -> str | None:
    """lower-case, spaces → `-`, only `[a-z0-9-]`, at most 50 characters; None if empty."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    name = _NOT_TAG.sub("", "-".join(folded.split()))
    name = re.sub(r"-{2,}", "-", name).strip("-")[:TAG_LIMIT].strip("-")
    return name or None


def normalise_tags(tags: list[tuple[str, str]]) -> tuple[Tag, ...]:
    """Normalised, de-duplicated (first wins), at most 20; unknown categories become `other`."""
    seen: dict[str, Tag] = {}
    for raw_name, raw_category in tags:
        name = normalise_tag(raw_name)
        if name is None or name in seen:
            continue
        try:
            category = TagCategory(raw_category)
        except ValueError:
            category = TagCategory.OTHER
        seen[name] = Tag(name, category)
        if len(seen) == MAX_TAGS:
            break
    return tuple(seen.values())


def apply_rules(classification: Classification, *, nsfw_image: bool) -> Classification:
    """§5.2 step 3: an NSFW image makes the rating explicit; a minor is always `sfw`.

    Raises:
        MinorWithNsfwImageError: a minor with an NSFW profile image.
    """
    rating = classification.nsfw_rating
    if nsfw_image:
        rating = NsfwRating.EXPLICIT
    if classification.age_bucket.is_minor:
        if nsfw_image:
            raise MinorWithNsfwImageError
        rating = NsfwRating.SFW
    return attrs.evolve(classification, nsfw_rating=rating)


def slugify(name: str, headline: str, *, suffix: str | None = None) -> str:
    """`<name>-<headline>` as lower-case ASCII `[a-z0-9-]`, base ≤ 80, + 10 random chars.

    A headline that begins with the name (as headlines often do) does not repeat it.
    """
    named, about = _slug_words(name), _slug_words(headline)
    if named and (about == named or about.startswith(f"{named}-")):
        about = about[len(named) :].strip("-")
    base = "-".join(part for part in (named, about) if part)[:SLUG_BASE_LIMIT].strip("-")
    tail = suffix or "".join(secrets.choice(_ALPHABET) for _ in range(SLUG_SUFFIX))
    return f"{base or 'persona'}-{tail}"


def _slug_words(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", folded.lower()).strip("-")
