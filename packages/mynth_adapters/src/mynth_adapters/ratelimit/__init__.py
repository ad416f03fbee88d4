"""Rate-limit stores: in memory (one process) and Redis (shared by every instance)."""

from __future__ import annotations

from mynth_adapters.ratelimit.memory import MemoryRateLimiter
from mynth_adapters.ratelimit.redis import RedisRateLimiter, redis_client

__all__ = ["MemoryRateLimiter", "RedisRateLimiter", "redis_client"]
