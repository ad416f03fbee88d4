"""The error → problem table, exercised end to end through a verifier that raises on demand."""

from __future__ import annotations

import attrs
import pytest

from mynth_adapters.testing import fake_bootstrap, fake_container
from mynth_core.errors import (
    ConflictError,
    InsufficientTokensError,
    MynthError,
    NoChangeError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    ServiceUnavailableError,
    VersionConflictError,
    WebhookRejectedError,
)
from mynth_core.identity import Principal
from mynth_http.app import create_app
from mynth_http.problems import PROBLEMS, problem_for


@attrs.define
class RaisingVerifier:
    """An IdentityVerifier that fails every call with `error`."""

    error: Exception

    async def verify(self, token: str) -> Principal:  # noqa: ARG002 - any token fails
        raise self.error


@attrs.frozen
class StaleDraftError(VersionConflictError):
    """A subclass with no row of its own."""


class UnlistedError(MynthError):
    """A core error nobody gave a row."""


# Fake-only: the error is raised by the identity verifier before any use case runs, so
# nothing here reaches a store.
@pytest.fixture
def raising(settings, client_for):
    def client_raising(error: Exception):
        container = fake_container(verifier=RaisingVerifier(error))
        return client_for(create_app(settings, bootstrap=lambda _: fake_bootstrap(container)))

    return client_raising


async def _answer(raising, error: Exception):
    async with raising(error) as client:
        return await client.get("/v1/personas", headers={"Authorization": "Bearer t"})


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (ConflictError(detail="busy"), 409, "conflict"),
        (VersionConflictError(detail="stale"), 409, "version-conflict"),
        (StaleDraftError(detail="stale"), 409, "version-conflict"),
        (NoChangeError(), 422, "no-change"),
        (ProviderError(detail="upstream 500"), 502, "provider-error"),
        (WebhookRejectedError(reason="bad signature"), 401, "invalid-signature"),
        (ServiceUnavailableError(detail="db down"), 503, "service-unavailable"),
    ],
)
async def test_a_core_error_becomes_its_problem(raising, error, status, slug) -> None:
    response = await _answer(raising, error)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert problem["status"] == status
    assert {"title", "detail"} <= problem.keys()


async def test_insufficient_tokens_carries_required_and_available(raising) -> None:
    response = await _answer(raising, InsufficientTokensError(required=3, available=1))

    assert response.status_code == 402
    assert response.json()["required"] == 3
    assert response.json()["available"] == 1


async def test_rate_limited_carries_retry_after_in_body_and_header(raising) -> None:
    response = await _answer(raising, RateLimitedError(bucket="creation", retry_after=17))

    assert response.status_code == 429
    assert response.json()["retry_after"] == 17
    assert response.headers["retry-after"] == "17"


async def test_not_found_never_names_the_resource(raising) -> None:
    response = await _answer(raising, NotFoundError("persona", "prs_secret_id"))

    assert response.status_code == 404
    assert "prs_secret_id" not in response.text
    assert response.json()["detail"] == "Resource not found"


async def test_a_dependency_failure_reveals_no_internals(raising) -> None:
    response = await _answer(raising, ServiceUnavailableError(detail="pg at 10.1.2.3:5432 down"))

    assert "10.1.2.3" not in response.text


async def test_an_unexpected_exception_is_a_bare_500_problem_and_logged(raising, capsys) -> None:
    capsys.readouterr()

    response = await _answer(raising, RuntimeError("secret internals at /srv/app.py"))

    assert response.status_code == 500
    assert response.json() == {
        "type": "/problems/internal-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "An unexpected error occurred",
    }
    assert "secret internals" in capsys.readouterr().err


async def test_a_core_error_without_a_row_is_a_500(raising) -> None:
    response = await _answer(raising, UnlistedError())

    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"


def test_lookup_walks_the_mro_to_the_nearest_row() -> None:
    assert problem_for(StaleDraftError(detail="x")) is PROBLEMS[VersionConflictError]
    assert problem_for(ConflictError(detail="x")) is PROBLEMS[ConflictError]
    assert problem_for(UnlistedError()) is None


def test_every_row_has_a_distinct_slug() -> None:
    slugs = [p.slug for p in PROBLEMS.values()]

    assert len(slugs) == len(set(slugs))
