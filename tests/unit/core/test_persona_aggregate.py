"""Properties of the Persona aggregate: numbering, the current pointer, the event stream."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mynth_core.errors import NoChangeError, NotFoundError, VersionConflictError
from mynth_core.ids import VersionId
from mynth_core.personas.events import (
    PersonaCloned,
    PersonaCreated,
    PersonaDeleted,
    PersonaEvent,
    PersonaReverted,
    PersonaVersionCreated,
)
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.model import (
    CloneSource,
    Persona,
    PersonaVersion,
    VersionDraft,
    VersionSource,
)
from mynth_core.testing import a_persona
from mynth_core.testing import persona_data as aurora
from mynth_core.testing.builders import T0
from strategies import persona_data


def a_draft(n: int, data: PersonaData, title: str | None = None) -> VersionDraft:
    return VersionDraft(
        id=VersionId(f"prv_{n}"), data=data, title=title, source=VersionSource.MANUAL
    )


class PersonaMachine(RuleBasedStateMachine):
    """Random sequences of edits and reverts against the aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.persona, events = a_persona()
        self.events: list[PersonaEvent] = list(events)
        self.versions: dict[VersionId, PersonaVersion] = {
            self.persona.current_version_id: self.persona.current_version
        }
        self.at = T0
        self.minted = 0

    def _tick(self) -> None:
        self.at += timedelta(seconds=1)

    @rule(data=persona_data(), title=st.none() | st.text(min_size=1, max_size=20))
    def add_version(self, data: PersonaData, title: str | None) -> None:
        self._tick()
        self.minted += 1
        before = self.persona
        try:
            self.persona, events = before.add_version(a_draft(self.minted, data, title), at=self.at)
        except NoChangeError:
            assert data == before.current_version.data
            return
        self.versions[self.persona.current_version_id] = self.persona.current_version
        self.events.extend(events)

    @precondition(lambda self: len(self.versions) > 1)
    @rule(choice=st.randoms(use_true_random=False))
    def revert(self, choice: object) -> None:
        self._tick()
        others = sorted(set(self.versions) - {self.persona.current_version_id})
        target = self.versions[choice.choice(others)]  # type: ignore[attr-defined]
        self.persona, events = self.persona.revert_to(target, at=self.at)
        self.events.extend(events)

    @invariant()
    def version_numbers_strictly_increase(self) -> None:
        numbers = [v.version_number for v in self.versions.values()]  # in creation order
        assert numbers == list(range(1, len(numbers) + 1))
        assert self.persona.next_version_number == len(numbers) + 1

    @invariant()
    def the_current_pointer_names_an_existing_version(self) -> None:
        assert self.versions[self.persona.current_version_id] == self.persona.current_version

    @invariant()
    def events_are_ordered_and_describe_every_version(self) -> None:
        times = [e.at for e in self.events]
        assert times == sorted(times)
        created = [
            (e.version_id, e.version_number)
            for e in self.events
            if isinstance(e, PersonaVersionCreated)
        ]
        assert created == [(v.id, v.version_number) for v in list(self.versions.values())[1:]]


TestPersonaMachine = PersonaMachine.TestCase
TestPersonaMachine.settings = settings(stateful_step_count=15)


def test_a_new_persona_starts_at_version_one_titled_by_its_name() -> None:
    persona, events = a_persona()
    assert persona.current_version.version_number == 1
    assert persona.title == "Aurora Vale"
    assert events == (
        PersonaCreated(
            persona_id=persona.id, at=T0, version_id=persona.current_version_id, source="manual"
        ),
    )


def test_an_edit_without_a_title_keeps_the_current_title() -> None:
    persona, _ = a_persona(title="The Keeper")
    edited, _ = persona.add_version(a_draft(2, aurora(name="Aurora Grey")), at=T0)
    assert edited.title == "The Keeper"
    assert edited.current_version.data.name == "Aurora Grey"


def test_an_edit_based_on_a_stale_version_is_a_conflict() -> None:
    persona, _ = a_persona()
    edited, _ = persona.add_version(a_draft(2, aurora(age="35")), at=T0)
    with pytest.raises(VersionConflictError):
        edited.add_version(
            a_draft(3, aurora(age="36")), at=T0, base_version_id=persona.current_version_id
        )


def test_an_edit_that_changes_nothing_is_refused() -> None:
    persona, _ = a_persona()
    with pytest.raises(NoChangeError):
        persona.add_version(a_draft(2, aurora()), at=T0)


def test_reverting_moves_the_pointer_without_writing_a_version() -> None:
    persona, _ = a_persona()
    first = persona.current_version
    edited, _ = persona.add_version(a_draft(2, aurora(age="35")), at=T0)
    reverted, events = edited.revert_to(first, at=T0)
    assert reverted.current_version == first
    assert reverted.next_version_number == 3
    assert events == (
        PersonaReverted(
            persona_id=persona.id,
            at=T0,
            from_version_id=edited.current_version_id,
            to_version_id=first.id,
        ),
    )


def test_reverting_to_the_current_version_is_refused() -> None:
    persona, _ = a_persona()
    with pytest.raises(NoChangeError):
        persona.revert_to(persona.current_version, at=T0)


def test_reverting_to_another_personas_version_reads_as_not_found() -> None:
    persona, _ = a_persona()
    other, _ = a_persona(persona_id="prs_other")
    with pytest.raises(NotFoundError):
        persona.revert_to(other.current_version, at=T0)


def test_deleting_clears_the_public_version_and_records_the_event() -> None:
    persona, _ = a_persona()
    public = attrs.evolve(persona, public_version_id=persona.current_version_id)
    gone, events = public.delete(at=T0)
    assert gone.deleted_at == T0
    assert not gone.is_public
    assert events == (PersonaDeleted(persona_id=persona.id, at=T0),)


def test_a_clone_records_its_source() -> None:
    source = CloneSource(persona_id="prs_src", version_id="prv_src")  # type: ignore[arg-type]
    draft = a_draft(1, aurora())
    clone, events = Persona.create("prs_c", "bob", draft, at=T0, cloned_from=source)  # type: ignore[arg-type]
    assert clone.cloned_from == source
    assert events[-1] == PersonaCloned(
        persona_id=clone.id, at=T0, source_persona_id="prs_src", source_version_id="prv_src"
    )


@pytest.mark.parametrize(
    ("reader", "public", "expected"),
    [("alice", False, "current"), ("bob", True, "public")],
)
def test_the_readable_version_is_current_for_the_owner_and_public_for_others(
    reader: str, public: bool, expected: str
) -> None:
    persona, _ = a_persona()
    first = persona.current_version_id
    persona, _ = persona.add_version(a_draft(2, aurora(age="35")), at=T0)
    if public:
        persona = attrs.evolve(persona, public_version_id=first)
    want = persona.current_version_id if expected == "current" else first
    assert persona.readable_version_for(reader) == want  # type: ignore[arg-type]


@pytest.mark.parametrize("deleted", [False, True])
def test_a_private_or_deleted_persona_is_not_readable_by_others(deleted: bool) -> None:
    persona, _ = a_persona()
    if deleted:
        persona, _ = attrs.evolve(persona, public_version_id=persona.current_version_id).delete(
            at=T0
        )
    with pytest.raises(NotFoundError):
        persona.readable_version_for("bob")  # type: ignore[arg-type]
