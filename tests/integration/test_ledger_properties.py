"""Random sequences of ledger commands keep every invariant, on SQLite and PostgreSQL.

A pure-Python oracle applies the rules of issue 2 independently; after every
step the real ledger must agree with it, and an account rebuilt from the stored
events by a reader Ledger must equal the live (cached) account of the writer
that wrote it last.

Two writers (two Ledger instances, as two service processes would be) share
one store and take turns on the same accounts, so each one's cached copy of an
account goes stale whenever the other writes it. Invoices also come in
batches, as the Kafka consumer sends them, and two writers sometimes claim one
new invoice id for two accounts at the same moment.

The number of examples comes from the Hypothesis profile (tests/conftest.py):
a fixed, derandomized one by default, ``--hypothesis-profile=deep`` for more.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from application.ledger import InvoiceRequest, Ledger
from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError
from infra.adapters.store.urls import persistence_env
from tests.threads import CheckedThread

CURRENCIES = ("USD", "EUR", "JPY")
REASONS = ("compensation", "refund", "promotion", "goodwill")
ACCOUNTS = 5
WRITERS = 2
# Either writer may run a command.
VIA = st.integers(0, WRITERS - 1)


@dataclass
class OracleAccount:
    """What the rules say an account holds, computed without the ledger."""

    balances: dict[str, int] = field(default_factory=dict)
    granted: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    entries: list[tuple[str, str, str, int, int]] = field(default_factory=list)

    def spend(self, currency: str, wanted: int, spent: dict[str, int]) -> int:
        take = min(self.balances.get(currency, 0), wanted)
        if take:
            self.balances[currency] -= take
            spent[currency] = spent.get(currency, 0) + take
        return take


@dataclass(frozen=True)
class Recorded:
    """A request the ledger accepted, and the answer it gave."""

    account_id: str
    key: str
    content: tuple[Any, ...]
    answer: dict[str, Any]


@dataclass(frozen=True)
class BatchItem:
    """One invoice of a generated batch, before its id is chosen."""

    account: int
    currency: str
    total: int
    # "new": a fresh id; "replay": exactly an invoice already decided;
    # "reuse": an id already decided, with this item's own content;
    # "twin": the id of an earlier item of the same batch.
    origin: str
    pick: int


BATCH_ITEMS = st.builds(
    BatchItem,
    account=st.integers(0, ACCOUNTS - 1),
    currency=st.sampled_from(CURRENCIES),
    total=st.integers(0, 4000),
    origin=st.sampled_from(["new", "new", "replay", "reuse", "twin"]),
    pick=st.integers(0, 1000),
)


@pytest.fixture
def ledgers(store_url: str) -> Iterator[tuple[list[Ledger], Ledger]]:
    """Two writers and a reader on one store, shared by every example."""
    writers = [Ledger(env=persistence_env(store_url)) for _ in range(WRITERS)]
    reader = Ledger(env=persistence_env(store_url), cache_size=0)
    yield writers, reader
    reader.close()
    for writer in writers:
        writer.close()


def machine_for(writers: list[Ledger], reader: Ledger) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        grants = Bundle("grants")
        invoices = Bundle("invoices")
        purchases = Bundle("purchases")

        def __init__(self) -> None:
            super().__init__()
            # Examples share one database; a fresh prefix keeps them apart.
            self.prefix = f"p{uuid.uuid4().hex[:8]}"
            self.account_ids = [f"{self.prefix}-acct-{n}" for n in range(ACCOUNTS)]
            self.oracle: dict[str, OracleAccount] = {}
            self.serial = 0
            # Which writer last wrote each account: its cached copy is current,
            # the other writer's may be stale.
            self.last_writer: dict[str, int] = {}
            # Every invoice decided so far, by id.
            self.decided: dict[str, Recorded] = {}

        def next_key(self, kind: str) -> str:
            self.serial += 1
            # Invoice ids are unique store-wide, so keys carry the prefix too.
            return f"{self.prefix}-{kind}-{self.serial}"

        def events_stored(self) -> int:
            return reader.recorder.max_notification_id() or 0

        def wrote(self, account_id: str, via: int) -> None:
            """``via`` recorded something new on the account: its copy is current.
            (A replay or a refusal records nothing, and leaves a stale copy stale.)"""
            self.last_writer[account_id] = via

        def decide_invoice(self, account_id: str, invoice_id: str, currency: str, total: int) -> Recorded:
            """The oracle's decision on a new invoice: credits cover what they can."""
            model = self.oracle.setdefault(account_id, OracleAccount())
            applied = model.spend(currency, total, model.applied)
            balance = model.balances.get(currency, 0)
            answer = {
                "account_id": account_id,
                "invoice_id": invoice_id,
                "currency": currency,
                "invoice_total_minor": total,
                "credits_applied_minor": applied,
                "amount_due_minor": total - applied,
                "balance_minor": balance,
            }
            model.entries.append(("invoice", invoice_id, currency, applied, balance))
            recorded = Recorded(account_id, invoice_id, (currency, total), answer)
            self.decided[invoice_id] = recorded
            return recorded

        # New requests

        @rule(
            target=grants,
            account=st.integers(0, ACCOUNTS - 1),
            currency=st.sampled_from(CURRENCIES),
            amount=st.integers(1, 5000),
            reason=st.sampled_from(REASONS),
            note=st.sampled_from(["", "outage", "welcome"]),
            via=VIA,
        )
        def grant(
            self, account: int, currency: str, amount: int, reason: str, note: str, via: int
        ) -> Recorded:
            account_id, grant_id = self.account_ids[account], self.next_key("grant")
            result = writers[via].grant(account_id, grant_id, currency, amount, reason, note)
            self.wrote(account_id, via)
            model = self.oracle.setdefault(account_id, OracleAccount())
            model.balances[currency] = model.balances.get(currency, 0) + amount
            model.granted[currency] = model.granted.get(currency, 0) + amount
            expected = {
                "account_id": account_id,
                "grant_id": grant_id,
                "currency": currency,
                "amount_minor": amount,
                "balance_minor": model.balances[currency],
            }
            assert result.to_json() == expected
            assert result.is_new
            model.entries.append(("grant", grant_id, currency, amount, model.balances[currency]))
            return Recorded(account_id, grant_id, (currency, amount, reason, note), expected)

        @rule(
            target=invoices,
            account=st.integers(0, ACCOUNTS - 1),
            currency=st.sampled_from(CURRENCIES),
            total=st.integers(0, 6000),
            via=VIA,
        )
        def invoice(self, account: int, currency: str, total: int, via: int) -> Recorded:
            account_id, invoice_id = self.account_ids[account], self.next_key("inv")
            result = writers[via].apply_invoice(account_id, invoice_id, currency, total)
            self.wrote(account_id, via)
            recorded = self.decide_invoice(account_id, invoice_id, currency, total)
            assert (result.to_json(), result.is_new) == (recorded.answer, True)
            return recorded

        @rule(items=st.lists(BATCH_ITEMS, min_size=2, max_size=8), via=VIA)
        def invoice_batch(self, items: list[BatchItem], via: int) -> None:
            """A batch as the consumer sends it: new invoices, redeliveries,
            reused ids, one id twice, a bad request; one transaction."""
            requests: list[InvoiceRequest] = []
            expected: list[tuple[dict[str, Any], bool] | type[LedgerError]] = []
            owners = {key: recorded.account_id for key, recorded in self.decided.items()}
            for item in items:
                account_id = self.account_ids[item.account]
                currency, total = item.currency, item.total
                earlier = [r.invoice_id for r in requests]
                if item.origin == "replay" and self.decided:
                    recorded = self.decided[sorted(self.decided)[item.pick % len(self.decided)]]
                    account_id, invoice_id = recorded.account_id, recorded.key
                    currency, total = recorded.content
                elif item.origin == "reuse" and self.decided:
                    invoice_id = sorted(self.decided)[item.pick % len(self.decided)]
                elif item.origin == "twin" and earlier:
                    invoice_id = earlier[item.pick % len(earlier)]
                else:
                    invoice_id = self.next_key("inv")
                    # a few requests a rule refuses, on new ids only (on a
                    # used id, which refusal comes first is not a rule)
                    if item.pick % 11 == 0:
                        currency = "XXX"
                    elif item.pick % 11 == 1:
                        total = -1
                requests.append(InvoiceRequest(account_id, invoice_id, currency, total))
                # the oracle: the rules in the order the ledger applies them
                owner = owners.get(invoice_id, account_id)
                if currency == "XXX" or total < 0:
                    expected.append(InvalidCommandError)
                elif owner != account_id:
                    expected.append(IdempotencyConflictError)
                elif invoice_id in self.decided:
                    recorded = self.decided[invoice_id]
                    if recorded.content == (currency, total):
                        expected.append((recorded.answer, False))
                    else:
                        expected.append(IdempotencyConflictError)
                else:
                    recorded = self.decide_invoice(account_id, invoice_id, currency, total)
                    owners[invoice_id] = account_id
                    expected.append((recorded.answer, True))

            outcomes = writers[via].apply_invoices(requests)

            got = [
                type(outcome) if isinstance(outcome, LedgerError) else (outcome.to_json(), outcome.is_new)
                for outcome in outcomes
            ]
            assert got == expected
            # (a writer that only replayed a decision its stale copy already
            # held wrote nothing, and its copy stays as stale as it was)
            for request, outcome in zip(requests, expected, strict=True):
                if isinstance(outcome, tuple) and outcome[1]:
                    self.wrote(request.account_id, via)

        @rule(
            first=st.integers(0, ACCOUNTS - 1),
            second=st.integers(0, ACCOUNTS - 1),
            currency=st.sampled_from(CURRENCIES),
            total=st.integers(0, 3000),
        )
        def concurrent_claims(self, first: int, second: int, currency: str, total: int) -> None:
            """Both writers, at the same moment, decide one new invoice id,
            each for another account: exactly one decision is recorded."""
            if first == second:
                return
            invoice_id = self.next_key("inv")
            claimants = [self.account_ids[first], self.account_ids[second]]
            barrier = threading.Barrier(WRITERS)
            outcomes: list[Any] = [None] * WRITERS

            def claim(via: int) -> None:
                barrier.wait(timeout=60)
                try:
                    outcomes[via] = writers[via].apply_invoice(claimants[via], invoice_id, currency, total)
                except IdempotencyConflictError as error:
                    outcomes[via] = error

            threads = [CheckedThread(claim, via, name=f"claim-{via}") for via in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.finish(timeout=120)

            winners = [via for via, outcome in enumerate(outcomes) if not isinstance(outcome, LedgerError)]
            assert len(winners) == 1, outcomes
            [winner] = winners
            loser = outcomes[1 - winner]
            assert isinstance(loser, IdempotencyConflictError)
            assert claimants[winner] in str(loser)
            recorded = self.decide_invoice(claimants[winner], invoice_id, currency, total)
            assert (outcomes[winner].to_json(), outcomes[winner].is_new) == (recorded.answer, True)
            self.wrote(claimants[winner], winner)

        @rule(
            target=purchases,
            account=st.integers(0, ACCOUNTS - 1),
            currency=st.sampled_from(CURRENCIES),
            price=st.integers(1, 6000),
            via=VIA,
        )
        def purchase(self, account: int, currency: str, price: int, via: int) -> Recorded:
            account_id, purchase_id = self.account_ids[account], self.next_key("pur")
            result = writers[via].buy_calling_credits(account_id, purchase_id, currency, price)
            self.wrote(account_id, via)
            model = self.oracle.setdefault(account_id, OracleAccount())
            used = model.spend(currency, price, model.used)
            balance = model.balances.get(currency, 0)
            expected = {
                "account_id": account_id,
                "purchase_id": purchase_id,
                "currency": currency,
                "price_minor": price,
                "credits_used_minor": used,
                "amount_due_minor": price - used,
                "balance_minor": balance,
            }
            assert result.to_json() == expected
            assert result.is_new
            model.entries.append(("calling_credit_purchase", purchase_id, currency, used, balance))
            return Recorded(account_id, purchase_id, (currency, price), expected)

        # Identical repeats: the recorded answer, nothing stored

        @rule(recorded=grants, via=VIA)
        def repeat_grant(self, recorded: Recorded, via: int) -> None:
            before = self.events_stored()
            result = writers[via].grant(recorded.account_id, recorded.key, *recorded.content)
            assert (result.to_json(), result.is_new) == (recorded.answer, False)
            assert self.events_stored() == before

        @rule(recorded=invoices, via=VIA)
        def repeat_invoice(self, recorded: Recorded, via: int) -> None:
            before = self.events_stored()
            result = writers[via].apply_invoice(recorded.account_id, recorded.key, *recorded.content)
            # The first decision stands, whatever was granted since.
            assert (result.to_json(), result.is_new) == (recorded.answer, False)
            assert self.events_stored() == before

        @rule(recorded=purchases, via=VIA)
        def repeat_purchase(self, recorded: Recorded, via: int) -> None:
            before = self.events_stored()
            result = writers[via].buy_calling_credits(recorded.account_id, recorded.key, *recorded.content)
            assert (result.to_json(), result.is_new) == (recorded.answer, False)
            assert self.events_stored() == before

        # Conflicting repeats: an error, nothing stored

        @rule(recorded=grants, change=st.sampled_from(["currency", "amount", "reason", "note"]), via=VIA)
        def conflicting_grant(self, recorded: Recorded, change: str, via: int) -> None:
            currency, amount, reason, note = recorded.content
            if change == "currency":
                currency = other_currency(currency)
            elif change == "amount":
                amount += 1
            elif change == "reason":
                reason = REASONS[(REASONS.index(reason) + 1) % len(REASONS)]
            else:
                note += " (edited)"
            self.expect_conflict(
                lambda: writers[via].grant(recorded.account_id, recorded.key, currency, amount, reason, note)
            )

        @rule(recorded=invoices, change_currency=st.booleans(), via=VIA)
        def conflicting_invoice(self, recorded: Recorded, change_currency: bool, via: int) -> None:
            currency, total = recorded.content
            changed = (other_currency(currency), total) if change_currency else (currency, total + 1)
            self.expect_conflict(
                lambda: writers[via].apply_invoice(recorded.account_id, recorded.key, *changed)
            )

        @rule(recorded=invoices, account=st.integers(0, ACCOUNTS - 1), via=VIA)
        def invoice_for_another_account(self, recorded: Recorded, account: int, via: int) -> None:
            other = self.account_ids[account]
            if other != recorded.account_id:
                # One invoice id is decided for one account only.
                self.expect_conflict(
                    lambda: writers[via].apply_invoice(other, recorded.key, *recorded.content)
                )

        @rule(recorded=purchases, change_currency=st.booleans(), via=VIA)
        def conflicting_purchase(self, recorded: Recorded, change_currency: bool, via: int) -> None:
            currency, price = recorded.content
            changed = (other_currency(currency), price) if change_currency else (currency, price + 1)
            self.expect_conflict(
                lambda: writers[via].buy_calling_credits(recorded.account_id, recorded.key, *changed)
            )

        def expect_conflict(self, command: Callable[[], Any]) -> None:
            before = self.events_stored()
            with pytest.raises(IdempotencyConflictError):
                command()
            assert self.events_stored() == before

        # Invariants, checked after every step

        @invariant()
        def balances_match_the_oracle_and_never_go_negative(self) -> None:
            for account_id in self.account_ids:
                model = self.oracle.get(account_id)
                answer = reader.balance(account_id).to_json()
                expected = dict(sorted(model.balances.items())) if model else {}
                assert {b["currency"]: b["balance_minor"] for b in answer["balances"]} == expected
                assert all(b["balance_minor"] >= 0 for b in answer["balances"])
                assert answer["visible"] == any(v > 0 for v in expected.values())

        @invariant()
        def balance_is_granted_minus_applied_minus_used(self) -> None:
            for account_id, model in self.oracle.items():
                stored = reader.account(account_id)
                assert stored is not None
                for currency in CURRENCIES:
                    granted, applied, used = stored.totals(currency)
                    assert stored.balance(currency) == granted - applied - used >= 0
                    assert (granted, applied, used) == (
                        model.granted.get(currency, 0),
                        model.applied.get(currency, 0),
                        model.used.get(currency, 0),
                    )

        @invariant()
        def history_has_one_decision_per_key_in_order(self) -> None:
            for account_id, model in self.oracle.items():
                entries = reader.history(account_id)
                keys = [e.get("grant_id") or e.get("invoice_id") or e.get("purchase_id") for e in entries]
                assert len(keys) == len(set(keys))
                got = [
                    (e["type"], key, e["currency"], e["amount_minor"], e["balance_minor"])
                    for e, key in zip(entries, keys, strict=True)
                ]
                assert got == model.entries
                assert all(type(v) is int for e in entries for k, v in e.items() if k.endswith("_minor"))

        @invariant()
        def state_rebuilt_from_stored_events_equals_live_state(self) -> None:
            for account_id in self.oracle:
                stored = reader.account(account_id)
                for via, writer in enumerate(writers):
                    live = writer._hot.get(account_id)
                    if live is None:
                        continue
                    assert stored is not None
                    if via == self.last_writer.get(account_id):
                        # the writer that wrote last holds exactly what is stored
                        assert stored.version == live.version
                        assert stored.balances == live.balances
                        assert snapshot(stored) == snapshot(live)
                    else:
                        # the other may be behind (stale), never ahead
                        assert live.version <= stored.version

    return LedgerMachine


def other_currency(currency: str) -> str:
    return CURRENCIES[(CURRENCIES.index(currency) + 1) % len(CURRENCIES)]


def snapshot(account: CreditAccount) -> tuple[Any, ...]:
    """The state an account decides from, comparable across two loads. (The
    recorded events it happens to know are a cache of the store's, which
    the history invariant checks.)"""
    return (
        account.account_id,
        account.balances,
        [account.totals(c) for c in CURRENCIES],
        [account.restored(c) for c in CURRENCIES],
    )


def test_random_command_sequences_keep_the_ledger_invariants(ledgers: tuple[list[Ledger], Ledger]) -> None:
    writers, reader = ledgers
    # settings() is the profile loaded now: derandomized by default, or the
    # one named by --hypothesis-profile
    run_state_machine_as_test(machine_for(writers, reader), settings=settings())
