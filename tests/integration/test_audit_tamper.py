"""Tamper trials: whoever changes, deletes, inserts or reorders stored event rows
with raw SQL is caught by `audit verify`, at the position where it happened.

Each trial tampers with the real store, verifies it, and undoes the change
exactly, so the next trial starts from the untouched history again; at the end
the store must verify clean with its original chain head.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

import pytest

from application.audit.verify import CHAIN_KINDS, Report
from application.ledger import Ledger
from tests.integration.audit_support import RawStore, build_history, verify

TRIALS = 100


@pytest.fixture
def store(ledger: Ledger, store_url: str) -> Iterator[RawStore]:
    # given a few hundred events over six accounts, recorded through the ledger
    build_history(ledger)
    raw = RawStore(store_url)
    yield raw
    raw.close()


def chain_positions(report: Report) -> set[int]:
    return {f.position for f in report.findings if f.kind in CHAIN_KINDS}


def _altered(state: bytes, rng: random.Random) -> bytes:
    """A change someone might make: an amount nudged, or bytes that mean the same."""
    numbers = list(re.finditer(rb'":(\d+)', state))
    if numbers and rng.random() < 0.7:
        target = rng.choice(numbers)
        bumped = str(int(target.group(1)) + rng.randint(1, 50)).encode()
        return state[: target.start(1)] + bumped + state[target.end(1) :]
    return state + b" "


def run_trials(
    store: RawStore, url: str, tamper: Callable[[RandomPositions], tuple[set[int], Callable[[], None]]]
) -> None:
    untouched = verify(url)
    assert untouched.clean, untouched.findings[:3]
    positions = RandomPositions(store.positions(), random.Random(2026))
    for trial in range(TRIALS):
        # when a stored row is tampered with
        with store.transaction():
            expected, undo = tamper(positions)
        report = verify(url)
        # then verification fails and locates the tampering exactly
        assert not report.clean, f"trial {trial}: tampering at {expected} went unnoticed"
        assert chain_positions(report) == expected, f"trial {trial}: {report.findings[:5]}"
        with store.transaction():
            undo()
    # and once every change is undone the store is clean again, same chain head
    restored = verify(url)
    assert restored.clean and restored.chain_head == untouched.chain_head


class RandomPositions:
    def __init__(self, positions: list[int], rng: random.Random) -> None:
        self.all = positions
        self.rng = rng

    def one(self) -> int:
        return self.rng.choice(self.all)

    def two(self) -> tuple[int, int]:
        p, q = self.rng.sample(self.all, 2)
        return min(p, q), max(p, q)


def test_every_modified_event_is_found_at_its_position(store: RawStore, store_url: str) -> None:
    def modify(at: RandomPositions) -> tuple[set[int], Callable[[], None]]:
        n = at.one()
        original = bytes(store.row(n)[4])
        store.set_state(n, _altered(original, at.rng))
        return {n}, lambda: store.set_state(n, original)

    run_trials(store, store_url, modify)


def test_every_deleted_event_is_found_at_its_position(store: RawStore, store_url: str) -> None:
    def delete(at: RandomPositions) -> tuple[set[int], Callable[[], None]]:
        n = at.one()
        original = store.row(n)
        store.delete(n)
        return {n}, lambda: store.insert(original)

    run_trials(store, store_url, delete)


def test_every_inserted_event_is_found_where_it_was_slipped_in(store: RawStore, store_url: str) -> None:
    def insert(at: RandomPositions) -> tuple[set[int], Callable[[], None]]:
        # A forged grant slipped in at position n, the rows after it moved up
        # one place, as an insert into the middle of the log would need.
        n = at.one()
        victim = store.row(n)
        store.move(n, +1)
        forged = (
            b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"},'
            b'"grant_id":"forged","currency":"USD","amount_minor":100000,"reason":"goodwill",'
            b'"note":"","balance_after_minor":100000}'
        )
        store.insert((n, victim[1], 10_000 + n, "domain.credit_account:CreditAccount.CreditGranted", forged))

        def undo() -> None:
            store.delete(n)
            store.move(n + 1, -1)

        # Every moved row now sits at a position its chain link does not
        # cover, and the last one has no link at all. Positions may have
        # gaps (a failed transaction takes ids it never uses): a link whose
        # row moved on into a gap is left without its event.
        moved = [p for p in at.all if p >= n]
        return {*moved, *(p + 1 for p in moved)}, undo

    run_trials(store, store_url, insert)


def test_every_swapped_pair_is_found_at_both_positions(store: RawStore, store_url: str) -> None:
    def swap(at: RandomPositions) -> tuple[set[int], Callable[[], None]]:
        p, q = at.two()
        store.swap(p, q)
        return {p, q}, lambda: store.swap(p, q)

    run_trials(store, store_url, swap)
