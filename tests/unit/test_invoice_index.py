"""The invoice index finds every repeated invoice id, in memory or spilled to disk."""

from __future__ import annotations

import random

from application.audit.invoice_index import Decided, InvoiceIndex


def decided(position: int) -> Decided:
    return Decided(position, f"originator {position % 7}", "USD")


def duplicates_found(ids: list[str], chunk: int) -> set[tuple[str, int, int]]:
    index = InvoiceIndex(chunk=chunk)
    found = set()
    for position, invoice_id in enumerate(ids, start=1):
        for d in index.add(invoice_id, decided(position)):
            found.add((d.invoice_id, d.first_position, d.again.position))
    for d in index.flush():
        found.add((d.invoice_id, d.first_position, d.again.position))
    index.close()
    return found


def expected_duplicates(ids: list[str]) -> set[tuple[str, int, int]]:
    first: dict[str, int] = {}
    expected = set()
    for position, invoice_id in enumerate(ids, start=1):
        if invoice_id in first:
            expected.add((invoice_id, first[invoice_id], position))
        else:
            first[invoice_id] = position
    return expected


def test_repeats_across_spilled_chunks_are_all_found_with_the_first_position() -> None:
    # given 2,000 decisions with repeats far apart and close together
    rng = random.Random(5)
    ids = [f"inv-{rng.randrange(1_500):05d}" for _ in range(2_000)]
    # when indexed with chunks small enough to spill to disk many times
    found = duplicates_found(ids, chunk=64)
    # then every repeat is named against the position that decided it first
    assert found == expected_duplicates(ids)
    assert len(found) > 300


def test_a_store_smaller_than_a_chunk_never_touches_the_disk() -> None:
    index = InvoiceIndex(chunk=100)
    assert list(index.add("inv-1", decided(1))) == []
    assert list(index.add("inv-1", decided(2))) == []
    assert [(d.first_position, d.again.position) for d in index.flush()] == [(1, 2)]
    assert not index._scratch.opened  # the whole run stayed in memory
    index.close()
