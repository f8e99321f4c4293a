"""What a refused command says, word for word: the person or system that sent
it acts on this sentence, so it must quote what was refused, and no more."""

from __future__ import annotations

import pytest

from application.money import format_minor, to_minor
from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError
from domain.rules import quoted


def test_a_short_value_is_quoted_whole() -> None:
    assert quoted("acct-alice") == "'acct-alice'"
    assert quoted(2500) == "2500"
    # a repr of exactly 60 characters still fits
    fits = "a" * 58
    assert quoted(fits) == repr(fits)


def test_a_long_value_is_cut_to_sixty_characters_keeping_both_ends() -> None:
    # given a value whose repr is 61 characters, one too many
    value = "b" + "a" * 58 + "z"
    # then it keeps its first 55 characters and its last 2, around an ellipsis
    assert quoted(value) == "'b" + "a" * 53 + "...z'"
    assert len(quoted(value)) == 60
    assert quoted("x" * 10_000) == "'" + "x" * 54 + "...x'"


def test_a_conflicting_repeat_names_every_field_that_differs() -> None:
    # given a grant recorded once
    account = CreditAccount.open("acct-alice")
    account.grant("grant-1", "USD", 500, "promotion", "")
    # when the same grant id comes again with another amount and reason
    with pytest.raises(IdempotencyConflictError) as raised:
        account.grant("grant-1", "USD", 600, "refund", "")
    # then both differences are named, recorded value first, in field order
    assert str(raised.value) == (
        "grant_id 'grant-1' was already recorded with different content: "
        "amount_minor 500 recorded, 600 given; reason 'promotion' recorded, 'refund' given"
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12.5x", "amount '12.5x' is not a decimal number such as 25.00"),
        ("-3.00", "amount '-3.00' must not be negative"),
        ("1.234", "amount '1.234' has more than 2 decimal places for USD"),
        ("0.00", "amount '0.00' must be greater than zero"),
        ("9" * 33, f"amount '{'9' * 33}' is too long: at most 32 characters"),
    ],
)
def test_a_refused_amount_is_quoted_in_the_reason(amount: str, message: str) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        to_minor(amount, "USD")
    assert str(raised.value) == message


def test_an_amount_of_exactly_thirty_two_characters_is_accepted() -> None:
    # (leading zeros pad it to the limit without changing its value)
    amount = "0" * 28 + "1.00"
    assert len(amount) == 32
    assert to_minor(amount, "USD") == 100


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(-2500, "USD", "-25.00"), (-7, "USD", "-0.07"), (-5, "JPY", "-5"), (-1, "KWD", "-0.001")],
)
def test_a_negative_amount_formats_with_its_sign(minor: int, currency: str, text: str) -> None:
    assert format_minor(minor, currency) == text
