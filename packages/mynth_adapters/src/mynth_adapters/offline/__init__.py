"""The offline generators of the embedded default: deterministic, network-free, `offline/…` ids."""

from __future__ import annotations

from mynth_adapters.offline.chat import OFFLINE_PROVIDER, OFFLINE_TEXT_MODEL, OfflineChatModel

__all__ = ["OFFLINE_PROVIDER", "OFFLINE_TEXT_MODEL", "OfflineChatModel"]
