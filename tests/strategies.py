"""Hypothesis strategies for core types."""

from __future__ import annotations

from hypothesis import strategies as st

from mynth_core.personas.fields import FIELD_LIMITS, REQUIRED_FIELDS, PersonaData, PersonaPatch

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())
extension_keys = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)


@st.composite
def persona_data(draw: st.DrawFn) -> PersonaData:
    fields: dict[str, str | None] = {name: draw(_text) for name in REQUIRED_FIELDS}
    fields["occupation"] = draw(st.none() | _text)
    extensions = draw(st.dictionaries(extension_keys, _text, max_size=5))
    return PersonaData.parse(fields, extensions)


@st.composite
def patches(draw: st.DrawFn) -> PersonaPatch:
    names = draw(st.sets(st.sampled_from(sorted(FIELD_LIMITS)), max_size=3))
    fields: dict[str, str | None] = {name: draw(_text) for name in names}
    if draw(st.booleans()):
        fields["occupation"] = None
    extensions = draw(st.dictionaries(extension_keys, st.none() | _text, max_size=3))
    return PersonaPatch.of(fields, extensions)
