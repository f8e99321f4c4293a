"""An account's memory of its recorded events: snapshots leave it out, and
recalled events answer repeated commands again."""

from __future__ import annotations

from domain.credit_account import CreditAccount

ALICE = "acct-alice"


def an_account_with_history() -> CreditAccount:
    account = CreditAccount.open(ALICE)
    account.grant("grant-001", "USD", 5000, "promotion", "")
    account.apply_to_invoice("inv-001", "USD", 1200)
    account.buy_calling_credits("purchase-001", "USD", 300)
    account.void_invoice("inv-001")
    return account


def test_a_snapshot_restores_the_totals_and_knows_no_events() -> None:
    # given an account with a decision of every kind
    account = an_account_with_history()
    # when it is snapshotted and restored
    restored = CreditAccount.Snapshot.take(account).mutate(None)
    # then its balances and totals are the same, and it knows no event
    assert restored.balances == account.balances == {"USD": 4700}
    assert restored.totals("USD") == account.totals("USD") == (5000, 1200, 300)
    assert restored.restored("USD") == 1200
    assert restored.version == account.version
    assert restored.decision_for("inv-001") is None and restored.void_for("inv-001") is None


def test_recalled_events_answer_repeated_commands_as_recorded() -> None:
    # given an account restored from a snapshot, and its recorded events
    account = an_account_with_history()
    recorded = list(account.collect_events())[1:]
    restored = CreditAccount.Snapshot.take(account).mutate(None)
    # when the recorded events are recalled
    restored.recall(recorded)
    # then every repeated command answers from them and records nothing
    assert restored.grant("grant-001", "USD", 5000, "promotion", "").event is recorded[0]
    assert restored.apply_to_invoice("inv-001", "USD", 1200).event is recorded[1]
    assert restored.buy_calling_credits("purchase-001", "USD", 300).event is recorded[2]
    assert restored.void_invoice("inv-001").event is recorded[3]
    assert restored.pending_events == []


def test_events_of_another_account_are_never_recalled() -> None:
    # given another account's recorded grant
    other = CreditAccount.open("acct-bob")
    foreign = other.grant("grant-001", "USD", 100, "promotion", "").event
    account = CreditAccount.open(ALICE)
    # when it is offered to this account, then it is ignored
    account.recall([foreign])
    assert account.grant("grant-001", "USD", 900, "promotion", "").is_new


def test_forgetting_recorded_events_keeps_the_totals() -> None:
    # given an account that forgets the events it recorded
    account = an_account_with_history()
    account.forget_recorded_events()
    # then it still decides from the same balance
    assert account.balance("USD") == 4700
    assert account.decision_for("inv-001") is None
