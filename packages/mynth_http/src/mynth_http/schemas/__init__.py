"""Request (`…In`) and response (`…Out`) shapes, and the domain → response mappers."""

from __future__ import annotations
