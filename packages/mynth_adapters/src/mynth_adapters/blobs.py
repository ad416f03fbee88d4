"""LocalBlobStore: blobs as files under a directory (`<MYNTH_DATA_DIR>/blobs` by default).

A directory on local disk or a shared volume serves the embedded default and a small
deployment alike; an object-store adapter can replace it behind the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from mynth_core.images.ports import BlobStore

BLOBS_DIR: Final = "blobs"
# Segments of letters, digits, `_`, `-` and inner dots, joined by `/`. No segment starts
# with a dot, so `.`, `..`, hidden files and our own temporary files are never keys.
_KEY: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
KEY_LIMIT: Final = 512
_TEMP_PREFIX: Final = ".tmp-"


class InvalidBlobKeyError(ValueError):
    """A key that could name a file outside the store (or is not a key we make)."""


@attrs.frozen
class LocalBlobStore:
    """Blobs as files under `root`, one per key (`images/img_x.webp` → `root/images/img_x.webp`).

    Writes are atomic: the bytes go to a temporary file in the target's directory, are
    flushed to disk (`fsync`) and renamed over the target, so a reader sees the old blob or
    the new one, never part of one. File IO runs in a worker thread. `content_type` is not
    stored: the key's extension already says it.
    """

    root: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> LocalBlobStore:
        """The store at `<data_dir>/blobs`."""
        return cls(data_dir / BLOBS_DIR)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:  # noqa: ARG002 - implied by the key
        path = self.path_of(key)
        await asyncio.to_thread(_write_atomically, self.root, path, data)

    async def get(self, key: str) -> bytes | None:
        path = self.path_of(key)
        return await asyncio.to_thread(_read_or_none, self.root, path)

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        await asyncio.to_thread(_delete, self.root, path)

    def path_of(self, key: str) -> Path:
        """The file of `key` (checked without touching the disk).

        Raises:
            InvalidBlobKeyError: an empty, absolute or over-long key, one with `.`/`..`
                segments, backslashes or other characters outside `[A-Za-z0-9._-/]`.
        """
        if len(key) > KEY_LIMIT or not _KEY.fullmatch(key):
            raise InvalidBlobKeyError(f"not a valid blob key: {key!r}")
        return self.root.joinpath(*key.split("/"))


def _check_inside(root: Path, path: Path) -> None:
    """Refuse a path that a symlink inside the store leads out of it."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise InvalidBlobKeyError(f"{path} leaves the blob store")


def _write_atomically(root: Path, path: Path, data: bytes) -> None:
    _check_inside(root, path)  # before mkdir: a symlinked directory must not get children
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _read_or_none(root: Path, path: Path) -> bytes | None:
    _check_inside(root, path)
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _delete(root: Path, path: Path) -> None:
    _check_inside(root, path)
    path.unlink(missing_ok=True)


if TYPE_CHECKING:
    _conforms: type[BlobStore] = LocalBlobStore
