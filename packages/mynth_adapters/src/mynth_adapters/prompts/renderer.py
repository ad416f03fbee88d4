"""`JinjaPromptRenderer`: prompt specs → chat messages, from the templates shipped beside it.

Every template is compiled once, when the renderer is built; rendering a spec is then two
dictionary look-ups and two sandboxed renders. User text only ever arrives as a variable, so
`{{ … }}` or `{% … %}` written by a user stays literal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mynth_core.generation.ports import PromptMessage, PromptSpec, Role

if TYPE_CHECKING:
    from mynth_core.generation.ports import PromptRenderer

PROMPT_TEMPLATE_VERSION: Final = "2026-11-25.1"
"""Recorded with every version a prompt produced; bump it whenever a template's wording changes."""

PERSONA_BLOCK_START: Final = "<persona_json>"
PERSONA_BLOCK_END: Final = "</persona_json>"
"""The tags around a persona's JSON data block; inside it `</` is written `<\\/` (still JSON)."""

_SUFFIX: Final = ".j2"
_PARTS: Final = ((Role.SYSTEM, "system"), (Role.USER, "user"))


@attrs.frozen
class PromptTemplateError(Exception):
    """A template needs a variable its spec does not provide, or fails to render: a bug."""

    template: str
    detail: str

    def __str__(self) -> str:
        return f"prompt template {self.template!r}: {self.detail}"


@attrs.frozen
class UnknownPromptTemplateError(PromptTemplateError, LookupError):
    """A spec names a template that has neither a system nor a user part."""


def json_block(text: str) -> str:
    """JSON text made safe to embed between tags: `</` can never close the block early."""
    return text.replace("</", "<\\/")


def prompt_environment(loader: jinja2.BaseLoader) -> ImmutableSandboxedEnvironment:
    """The sandbox every prompt renders in: plain text, strict about missing variables."""
    environment = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # prompts are plain text sent to a model, never HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters["json_block"] = json_block
    return environment


def _package_loader() -> jinja2.BaseLoader:
    return jinja2.PackageLoader("mynth_adapters.prompts", "templates")


def _compile_all(
    environment: jinja2.Environment,
) -> Mapping[str, Mapping[str, jinja2.Template]]:
    """Every template, compiled, by prompt name and then part (`system`, `user`)."""
    prompts: dict[str, dict[str, jinja2.Template]] = {}
    for name in environment.list_templates(filter_func=lambda name: name.endswith(_SUFFIX)):
        prompt, _, part = name.removesuffix(_SUFFIX).rpartition(".")
        prompts.setdefault(prompt, {})[part] = environment.get_template(name)
    return prompts


@attrs.frozen(eq=False)
class JinjaPromptRenderer:
    """Renders `<spec.template>.system.j2` and `<spec.template>.user.j2` with `spec.variables()`.

    A part whose template does not exist or renders to nothing is left out; surrounding
    whitespace is trimmed from each message. `loader` defaults
    to the templates shipped in this package; tests may pass their own.

    Raises (from `render`):
        UnknownPromptTemplateError: the spec's template has no parts at all.
        PromptTemplateError: a variable the template uses is missing (a bug in the spec).
    """

    loader: jinja2.BaseLoader = attrs.field(factory=_package_loader)
    environment: ImmutableSandboxedEnvironment = attrs.field(
        init=False,
        default=attrs.Factory(lambda self: prompt_environment(self.loader), takes_self=True),
    )
    _templates: Mapping[str, Mapping[str, jinja2.Template]] = attrs.field(
        init=False,
        repr=False,
        default=attrs.Factory(lambda self: _compile_all(self.environment), takes_self=True),
    )

    @property
    def template_names(self) -> frozenset[str]:
        """The prompts this renderer knows (`persona_generate`, …)."""
        return frozenset(self._templates)

    def render(self, spec: PromptSpec) -> tuple[PromptMessage, ...]:
        parts = self._templates.get(spec.template)
        if parts is None:
            known = ", ".join(sorted(self._templates))
            raise UnknownPromptTemplateError(spec.template, f"no such template (known: {known})")
        variables = spec.variables()
        messages: list[PromptMessage] = []
        for role, part in _PARTS:
            template = parts.get(part)
            if template is None:
                continue
            if text := self._render(spec.template, template, variables).strip():
                messages.append(PromptMessage(role, text))
        return tuple(messages)

    @staticmethod
    def _render(name: str, template: jinja2.Template, variables: Mapping[str, object]) -> str:
        try:
            return template.render(variables)
        except jinja2.TemplateError as exc:
            raise PromptTemplateError(name, str(exc)) from exc


if TYPE_CHECKING:
    _conforms: type[PromptRenderer] = JinjaPromptRenderer
