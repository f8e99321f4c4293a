"""Event ids are public and stable: what billing has seen must never change."""

from __future__ import annotations

from uuid import UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from application.entries import _EVENT_NAMESPACE, event_id


@given(st.uuids(), st.integers(min_value=1, max_value=2**63 - 1))
def test_an_event_id_is_the_uuid5_of_its_stream_and_version(originator_id: UUID, version: int) -> None:
    # given any stream and version
    # when its event id is computed
    computed = event_id(originator_id, version)
    # then it is exactly the uuid5 of "<stream>:<version>" in the event namespace,
    # whether the stream is given as a UUID or as its text (as the views read it)
    assert computed == str(uuid5(_EVENT_NAMESPACE, f"{originator_id}:{version}"))
    assert event_id(str(originator_id), version) == computed


def test_a_known_event_keeps_the_id_it_was_published_under() -> None:
    # given an event id billing already has
    stream = UUID("2b7e1516-28ae-4d2a-a6ab-f7158809cf4f")
    # then it is computed the same way still
    assert event_id(stream, 2) == "c9687ef5-e215-5c90-894c-6eaca36f486d"
