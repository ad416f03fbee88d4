"""Fixtures for the image adapters: one fake Runware per session, fast clients, instant waits."""

from __future__ import annotations

import io
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import attrs
import httpx
import pytest
from PIL import Image

from mynth_adapters.http_client import provider_client
from mynth_adapters.images import (
    DOWNLOAD_RETRY,
    IMAGE_RETRY,
    RunwareImageGenerator,
    download_client,
)
from mynth_core.images.ports import ImageRequest
from mynth_core.images.registry import ImageModel, ImageRegistry
from mynth_core.testing import FrozenClock
from providers.runware import FakeRunware
from providers.server import Sleeps
from providers.webhooks import T0

# Short phases so a scripted stall fails fast; the real ones are INFERENCE_TIMEOUT.
TIMEOUT = httpx.Timeout(connect=1, read=0.3, write=1, pool=1)
REGISTRY = ImageRegistry()
SCHNELL = REGISTRY.get("black-forest-labs/flux-schnell")
DEV = REGISTRY.get("black-forest-labs/flux-dev")
PRO = REGISTRY.get("black-forest-labs/flux-1-pro")
SEEDREAM = REGISTRY.get("bytedance/seedream-3")
ULTRA = REGISTRY.get("black-forest-labs/flux-1.1-pro-ultra")
PROMPT = "portrait of an elderly lighthouse keeper, oil paint"


@pytest.fixture(scope="session")
def runware_server() -> Iterator[FakeRunware]:
    with FakeRunware.running() as fake:
        yield fake


@pytest.fixture
def runware(runware_server: FakeRunware) -> FakeRunware:
    """The session's fake Runware with no script and no history."""
    runware_server.reset()
    return runware_server


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """One TLS context for every client (building one per client costs ~25 ms; no test uses it)."""
    return ssl.create_default_context()


@pytest.fixture
async def http(runware: FakeRunware, tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(verify=tls)
    async with provider_client(runware.base_url, TIMEOUT, transport=transport) as client:
        yield client


@pytest.fixture
async def downloads(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(verify=tls)
    async with download_client(transport=transport) as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def download_sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_generator(
    http: httpx.AsyncClient,
    downloads: httpx.AsyncClient,
    runware: FakeRunware,
    sleeps: Sleeps,
    download_sleeps: Sleeps,
) -> Callable[..., RunwareImageGenerator]:
    """A RunwareImageGenerator on the fake (its host allowed), with instant retry waits."""

    def make(**fields: object) -> RunwareImageGenerator:
        defaults: dict[str, object] = {
            "client": http,
            "api_key": runware.api_key,
            "download_client": downloads,
            "download_hosts": frozenset({runware.download_host}),
            "retry": attrs.evolve(IMAGE_RETRY, sleep=sleeps),
            "download_retry": attrs.evolve(DOWNLOAD_RETRY, sleep=download_sleeps),
            "download_attempt_timeout": 2.0,
            "clock": FrozenClock(T0),
        }
        return RunwareImageGenerator(**(defaults | fields))  # type: ignore[arg-type]

    return make


@pytest.fixture
def generator(make_generator: Callable[..., RunwareImageGenerator]) -> RunwareImageGenerator:
    return make_generator()


def image_request(model: ImageModel = SCHNELL, **fields: object) -> ImageRequest:
    """A request for `model` at its registry size with a fresh taskUUID."""
    defaults: dict[str, object] = {
        "model": model,
        "prompt": PROMPT,
        "width": model.width,
        "height": model.height,
        "task_uuid": str(uuid.uuid4()),
    }
    return ImageRequest(**(defaults | fields))  # type: ignore[arg-type]


@pytest.fixture
def a_request() -> Callable[..., ImageRequest]:
    return image_request


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def picture_bytes(
    size: tuple[int, int], image_format: str = "PNG", colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, image_format)
    return buffer.getvalue()


@pytest.fixture
def open_image() -> Callable[[bytes], Image.Image]:
    """Decode bytes with Pillow (the test's own reading of what was stored)."""
    return opened


@pytest.fixture
def make_picture() -> Callable[..., bytes]:
    """A flat-colour picture's bytes: `make_picture((w, h), "PNG", (r, g, b))`."""
    return picture_bytes
