"""Reading an event's public values straight from it gives what its entry shows."""

from __future__ import annotations

from application.entries import PUBLIC_NAMES, PublicReader, entry_kind, ledger_entry
from tests.recorded_events import every_kind_of_entry


def recorded_events() -> list[object]:
    return every_kind_of_entry("acct-alice")


def test_every_public_name_of_every_kind_reads_as_the_entry_shows_it() -> None:
    # given events of every kind and every public name, in several selections
    every = tuple(PUBLIC_NAMES)
    selections = [every, every[::-1], ("decided_at", "occurred_at", "event_id"), ("currency",), ("note",)]
    kinds = set()
    for event in recorded_events():
        entry = ledger_entry(event)
        if entry is None:
            assert entry_kind(type(event)) is None
            continue
        kinds.add(entry_kind(type(event)))
        for names in selections:
            # then the reader's values are the entry's, KindAmounts it lacks as None
            assert PublicReader(type(event), names)(event) == entry.public(names)  # type: ignore[arg-type]
    assert kinds == {"grant", "invoice", "calling_credit_purchase", "restore"}
