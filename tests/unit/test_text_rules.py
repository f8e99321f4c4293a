"""One definition of acceptable text, for ids, notes and every other input."""

from __future__ import annotations

import pytest

from domain.credit_account import CreditAccount
from domain.errors import InvalidCommandError
from domain.rules import MAX_BALANCE_MINOR, check_key, check_text


@pytest.mark.parametrize(
    "account_id",
    ["acct-alice", "org/acct-7", "a.b", "a..b", "x/.hidden", "team/a.b/c", "A" * 128],
)
def test_ordinary_ids_are_accepted(account_id: str) -> None:
    check_key("account_id", account_id)


@pytest.mark.parametrize(
    ("account_id", "why"),
    [
        ("", "1-128 characters"),
        ("A" * 129, "1-128 characters"),
        ("a" * 10_000, "1-128 characters"),
        ("acct\x00alice", "1-128 characters"),
        ("acct\ud800", "1-128 characters"),
        ("a/../b", "path segment"),
        ("a/./b", "path segment"),
        ("a/..", "path segment"),
        ("a/.", "path segment"),
        ("..", "1-128 characters"),
    ],
)
def test_ids_a_url_or_a_database_would_mangle_are_refused(account_id: str, why: str) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        check_key("account_id", account_id)
    assert why in str(raised.value)
    # and the message never echoes a hostile value whole
    assert len(str(raised.value)) < 250


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a\x00b", "U+0000"),
        ("line\nbreak", "U+000A"),
        ("bell\x07", "U+0007"),
        ("delete\x7f", "U+007F"),
        ("c1\x85", "U+0085"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("\udfff", "lone surrogate"),
        ("x" * 1001, "at most 1000"),
    ],
)
def test_notes_with_control_characters_or_invalid_unicode_are_refused(text: str, why: str) -> None:
    # given an account with no credits, when a grant carries such a note
    account = CreditAccount.open("acct-alice")
    with pytest.raises(InvalidCommandError) as raised:
        account.grant("grant-001", "USD", 100, "promotion", text)
    # then it is refused, says why, and nothing was decided
    assert why in str(raised.value)
    assert account.balance("USD") == 0


@pytest.mark.parametrize("text", ["", "goodwill after outage #42", "Grüße, 東京 🎉", "x" * 1000])
def test_ordinary_notes_in_any_script_are_accepted(text: str) -> None:
    check_text("note", text, max_length=1000)


def test_a_grant_that_would_take_a_balance_past_the_bound_is_refused_and_records_nothing() -> None:
    # given a balance right at the bound
    account = CreditAccount.open("acct-whale")
    account.grant("grant-001", "USD", MAX_BALANCE_MINOR, "promotion", "")
    # when one more minor unit is granted
    with pytest.raises(InvalidCommandError) as raised:
        account.grant("grant-002", "USD", 1, "promotion", "")
    # then it is refused as invalid and the balance is unchanged
    assert "limit" in str(raised.value)
    assert account.balance("USD") == MAX_BALANCE_MINOR
    assert len(account.pending_events) == 2  # opened, and the first grant only
    # and another currency has its own bound
    account.grant("grant-003", "EUR", MAX_BALANCE_MINOR, "promotion", "")
    assert account.balance("EUR") == MAX_BALANCE_MINOR


def test_a_replayed_grant_at_the_bound_still_returns_its_recorded_result() -> None:
    account = CreditAccount.open("acct-whale")
    first = account.grant("grant-001", "USD", MAX_BALANCE_MINOR, "promotion", "").event
    again = account.grant("grant-001", "USD", MAX_BALANCE_MINOR, "promotion", "")
    assert again.event is first
    assert not again.is_new


def test_spending_makes_room_for_new_grants_under_the_bound() -> None:
    account = CreditAccount.open("acct-whale")
    account.grant("grant-001", "USD", MAX_BALANCE_MINOR, "promotion", "")
    account.apply_to_invoice("inv-001", "USD", 500)
    account.grant("grant-002", "USD", 500, "promotion", "")
    assert account.balance("USD") == MAX_BALANCE_MINOR
