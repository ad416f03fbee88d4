"""Image generators (Runware, the offline renderer) and the WebP encoding they share."""

from __future__ import annotations

from mynth_adapters.images.encode import EncodedImage, encode, encode_now
from mynth_adapters.images.offline import OfflineImageGenerator
from mynth_adapters.images.runware import (
    DEFAULT_DOWNLOAD_HOSTS,
    DOWNLOAD_RETRY,
    IMAGE_RETRY,
    RUNWARE,
    RunwareImageGenerator,
    download_client,
    runware_client,
)

__all__ = [
    "DEFAULT_DOWNLOAD_HOSTS",
    "DOWNLOAD_RETRY",
    "IMAGE_RETRY",
    "RUNWARE",
    "EncodedImage",
    "OfflineImageGenerator",
    "RunwareImageGenerator",
    "download_client",
    "encode",
    "encode_now",
    "runware_client",
]
