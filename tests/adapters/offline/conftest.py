"""Fixtures for the offline text generator: the model, the real renderer, a schema checker."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from mynth_adapters.offline import OfflineChatModel
from mynth_adapters.prompts import JinjaPromptRenderer

SchemaErrors = Callable[[object, Mapping[str, object]], list[str]]

_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "null": type(None),
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def schema_errors(value: object, schema: Mapping[str, object], path: str = "$") -> list[str]:
    """What keeps `value` from matching `schema`, for the strict-mode subset our contracts use."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if not any(isinstance(value, _TYPES[kind]) for kind in kinds):
        return [f"{path}: {value!r} is not {kinds}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        required = schema.get("required", ())
        errors += [f"{path}: missing {key}" for key in required if key not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: extra {key}" for key in value if key not in properties]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{index}]")
    return errors


@pytest.fixture
def model() -> OfflineChatModel:
    return OfflineChatModel()


@pytest.fixture(scope="session")
def renderer() -> JinjaPromptRenderer:
    return JinjaPromptRenderer()


@pytest.fixture(scope="session")
def conforms() -> SchemaErrors:
    return schema_errors
