"""A chain head recorded earlier catches what the chain stored beside the
events cannot show alone: a cut tail, or every hash rewritten from a row on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.audit.verify import ANCHOR_MISMATCH, Anchor, Report
from application.ledger import Ledger
from application.tamper_chain import links
from infra.adapters.store.raw_log import raw_log
from infra.entrypoints.cli.audit_runs import verify_store
from tests.integration.audit_support import RawStore, build_history


def verify(url: str, anchor: Anchor | None = None) -> Report:
    return verify_store(raw_log(url), anchor=anchor)


@pytest.fixture
def raw(ledger: Ledger, store_url: str) -> Iterator[RawStore]:
    build_history(ledger, rounds=3)
    store = RawStore(store_url)
    yield store
    store.close()


def chain_table(raw: RawStore) -> str:
    return "event_chain" if raw.sqlite else "ledger_events_chain"


def recorded_head(url: str) -> Anchor:
    report = verify(url)
    assert report.clean
    return Anchor(report.chain_head_position, report.chain_head)


def test_an_untouched_store_matches_the_head_recorded_earlier(
    raw: RawStore, ledger: Ledger, store_url: str
) -> None:
    # given a head recorded, then more history written by the ledger
    anchor = recorded_head(store_url)
    ledger.grant("acct-late", "grant-late", "USD", 900, "goodwill")
    # then the history up to the anchor is unchanged, and the store is clean
    assert verify(store_url, anchor).findings == []


def test_a_cut_tail_passes_the_chain_but_not_the_anchor(raw: RawStore, store_url: str) -> None:
    # given a recorded head, then the last event and its link deleted together
    anchor = recorded_head(store_url)
    last = raw.positions()[-1]
    raw.delete(last)
    raw.run(f"DELETE FROM {chain_table(raw)} WHERE notification_id = ?", last)
    # then the chain alone cannot tell, and the anchor names the cut
    assert verify(store_url).clean
    [finding] = verify(store_url, anchor).findings
    assert finding.kind == ANCHOR_MISMATCH and "tail was removed" in finding.detail


def test_a_row_rewritten_with_every_later_hash_is_caught_by_the_anchor(raw: RawStore, store_url: str) -> None:
    # given a recorded head, then a middle event changed and the chain
    # recomputed from there on, as someone who knows the hash function could
    anchor = recorded_head(store_url)
    positions = raw.positions()
    target = positions[len(positions) // 2]
    state = bytes(raw.row(target)[4])
    raw.set_state(target, state + b" ")  # still valid JSON, different bytes
    table = chain_table(raw)
    [(previous,)] = raw.run(
        f"SELECT hash FROM {table} WHERE notification_id < ? ORDER BY notification_id DESC LIMIT 1", target
    )
    later = [p for p in positions if p >= target]

    class Row:
        def __init__(self, p: int) -> None:
            _, self.originator_id, self.originator_version, self.topic, state = raw.row(p)
            self.state = bytes(state)

    for position, digest in zip(later, links(bytes(previous), later, [Row(p) for p in later]), strict=True):
        raw.run(f"UPDATE {table} SET hash = ? WHERE notification_id = ?", digest, position)
    # then the anchor shows the history up to it was rewritten
    kinds = {f.kind for f in verify(store_url, anchor).findings}
    assert ANCHOR_MISMATCH in kinds
