"""JinjaPromptRenderer: parts, the sandbox, strictness, errors and the compiled-template cache."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import ClassVar

import attrs
import jinja2
import pytest

from mynth_adapters.prompts import (
    PERSONA_BLOCK_END,
    PERSONA_BLOCK_START,
    PROMPT_TEMPLATE_VERSION,
    JinjaPromptRenderer,
    PromptTemplateError,
    UnknownPromptTemplateError,
)
from mynth_core.generation.ports import PromptMessage, Role
from mynth_core.personas.prompts import (
    PersonaEnhancePrompt,
    PersonaGenerationPrompt,
    PropertyAction,
    PropertyActionPrompt,
    persona_json,
)
from mynth_core.testing import persona_data

INJECTION = "{{ 7*7 }} {% raw %} {# hidden #} {%- if true %}x{% endif %}"


@attrs.frozen
class AdHocPrompt:
    """A spec for any template name with any variables, for the edge cases."""

    template: ClassVar[str] = "persona_generate"
    values: Mapping[str, object] = attrs.field(factory=dict)

    def variables(self) -> Mapping[str, object]:
        return self.values


@attrs.frozen
class NamedPrompt:
    name: str
    values: Mapping[str, object] = attrs.field(factory=dict)

    @property
    def template(self) -> str:
        return self.name

    def variables(self) -> Mapping[str, object]:
        return self.values


@attrs.define(eq=False)  # Jinja keys its cache by a weak reference to the loader
class CountingLoader(jinja2.BaseLoader):
    """Wraps a loader and counts how often each template's source is read."""

    inner: jinja2.BaseLoader
    reads: dict[str, int] = attrs.field(factory=dict)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        self.reads[template] = self.reads.get(template, 0) + 1
        return self.inner.get_source(environment, template)

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


@pytest.fixture(scope="module")
def renderer() -> JinjaPromptRenderer:
    return JinjaPromptRenderer()


def every_spec(text: str = "make her a retired pilot"):
    data = persona_data(occupation="Lighthouse keeper")
    return [
        PersonaGenerationPrompt(text),
        PersonaEnhancePrompt(data, "The Keeper", text),
        *(PropertyActionPrompt(data, "appearance", action) for action in PropertyAction),
        *(PropertyActionPrompt(data, "fears", action) for action in PropertyAction),
    ]


def by_role(messages: tuple[PromptMessage, ...]) -> dict[Role, str]:
    assert len({m.role for m in messages}) == len(messages)
    return {m.role: m.content for m in messages}


def test_the_template_version_is_a_dated_label():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", PROMPT_TEMPLATE_VERSION)


def test_the_renderer_knows_the_three_persona_prompts(renderer):
    assert {"persona_generate", "persona_enhance", "property_action"} <= renderer.template_names


@pytest.mark.parametrize("spec", every_spec(), ids=lambda s: type(s).__name__)
def test_each_persona_prompt_renders_a_system_then_a_user_message(renderer, spec):
    messages = renderer.render(spec)

    assert [m.role for m in messages] == [Role.SYSTEM, Role.USER]
    assert all(m.content == m.content.strip() and m.content for m in messages)


def test_a_generation_prompt_is_the_user_message_verbatim_and_nowhere_else(renderer):
    prompt = f"A retired pilot who says {INJECTION} and 'quotes' \"everything\" <b>"

    messages = by_role(renderer.render(PersonaGenerationPrompt(prompt)))

    assert messages[Role.USER] == prompt
    assert prompt not in messages[Role.SYSTEM]


def test_template_syntax_in_user_text_stays_literal(renderer):
    messages = by_role(renderer.render(PersonaGenerationPrompt(INJECTION)))

    assert messages[Role.USER] == INJECTION
    assert "49" not in messages[Role.USER]


def test_template_syntax_in_persona_data_and_titles_stays_literal(renderer):
    data = persona_data(name="{{ 7*7 }}", background=INJECTION)
    spec = PersonaEnhancePrompt(data, "{% raw %}{{ title }}", INJECTION)

    messages = by_role(renderer.render(spec))

    assert json.dumps(INJECTION)[1:-1] in messages[Role.SYSTEM]
    assert '"name": "{{ 7*7 }}"' in messages[Role.SYSTEM]
    assert '"{% raw %}{{ title }}"' in messages[Role.SYSTEM]
    assert messages[Role.USER] == INJECTION
    assert "49" not in messages[Role.SYSTEM]


def test_the_enhance_instruction_is_only_in_the_user_message(renderer):
    instruction = "give her a fear of lighthouses at night"

    messages = by_role(renderer.render(PersonaEnhancePrompt(persona_data(), "T", instruction)))

    assert messages[Role.USER] == instruction
    assert instruction not in messages[Role.SYSTEM]


def test_the_persona_block_parses_back_to_the_persona(renderer):
    data = persona_data(background=f"Once wrote {PERSONA_BLOCK_END} on a wall. {INJECTION}")

    system = by_role(renderer.render(PersonaEnhancePrompt(data, "T", "x")))[Role.SYSTEM]

    lines = system.splitlines()
    block = lines[lines.index(PERSONA_BLOCK_START) + 1 : lines.index(PERSONA_BLOCK_END)]
    assert json.loads("\n".join(block)) == json.loads(persona_json(data))
    assert system.count(PERSONA_BLOCK_END) == 1


def test_a_missing_variable_raises_instead_of_rendering_empty(renderer):
    with pytest.raises(PromptTemplateError) as caught:
        renderer.render(AdHocPrompt())

    assert isinstance(caught.value.__cause__, jinja2.UndefinedError)
    assert "persona_generate" in str(caught.value)
    assert "prompt" in str(caught.value)


def test_an_unknown_template_raises_a_clear_lookup_error(renderer):
    with pytest.raises(UnknownPromptTemplateError) as caught:
        renderer.render(NamedPrompt("persona_regenerate"))

    assert isinstance(caught.value, LookupError)
    assert "persona_regenerate" in str(caught.value)
    assert "persona_generate" in str(caught.value)  # the known ones are listed


def test_a_missing_part_or_an_empty_render_is_left_out():
    loader = jinja2.DictLoader(
        {
            "user_only.user.j2": "{{ text }}\n",
            "maybe.system.j2": "{% if show %}Rules.{% endif %}\n\n",
            "maybe.user.j2": "{{ text }}",
        }
    )
    renderer = JinjaPromptRenderer(loader)

    only_user = renderer.render(NamedPrompt("user_only", {"text": "hi"}))
    hidden = renderer.render(NamedPrompt("maybe", {"text": "hi", "show": False}))
    shown = renderer.render(NamedPrompt("maybe", {"text": "hi", "show": True}))

    assert only_user == (PromptMessage(Role.USER, "hi"),)
    assert hidden == (PromptMessage(Role.USER, "hi"),)
    assert shown == (PromptMessage(Role.SYSTEM, "Rules."), PromptMessage(Role.USER, "hi"))


@pytest.mark.parametrize(
    "source",
    ["{{ text.__class__.__mro__ }}", "{{ items.append(1) }}", "{{ ().__class__.__base__ }}"],
)
def test_templates_run_in_an_immutable_sandbox(source):
    renderer = JinjaPromptRenderer(jinja2.DictLoader({"unsafe.user.j2": source}))

    with pytest.raises(PromptTemplateError) as caught:
        renderer.render(NamedPrompt("unsafe", {"text": "hi", "items": []}))

    assert isinstance(caught.value.__cause__, jinja2.sandbox.SecurityError)


def test_the_environment_is_strict_plain_text_and_sandboxed(renderer):
    environment = renderer.environment

    assert isinstance(environment, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert environment.undefined is jinja2.StrictUndefined
    assert environment.autoescape is False
    assert environment.keep_trailing_newline is True


def test_each_template_is_read_and_compiled_once_however_often_it_renders():
    loader = CountingLoader(jinja2.PackageLoader("mynth_adapters.prompts", "templates"))
    renderer = JinjaPromptRenderer(loader)
    assert set(loader.reads.values()) == {1}
    compiled = dict(loader.reads)

    for _ in range(50):
        for spec in every_spec():
            renderer.render(spec)

    assert loader.reads == compiled
    assert set(compiled) == {name for name in loader.list_templates() if name.endswith(".j2")}
    assert len(compiled) >= 15  # persona (6) and chat (9) templates


def test_rendering_does_not_consult_the_loader_at_all():
    loader = CountingLoader(jinja2.PackageLoader("mynth_adapters.prompts", "templates"))
    renderer = JinjaPromptRenderer(loader)
    loader.inner = jinja2.DictLoader({})  # were a render to load anything, it would now fail

    messages = renderer.render(PersonaGenerationPrompt("a pilot"))

    assert messages[-1] == PromptMessage(Role.USER, "a pilot")
