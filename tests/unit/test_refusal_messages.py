"""What a refused command says, word for word: the person or system that sent
it acts on this sentence, so it must quote what was refused, and no more."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from application.money import format_minor, to_minor
from domain.credit_account import CreditAccount
from domain.errors import IdempotencyConflictError, InvalidCommandError
from domain.rules import check_currency, check_minor_units, check_note, check_reason, quoted


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


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            lambda a: a.buy_calling_credits("bad id", "USD", 100),
            "purchase_id must be 1-128 characters of letters, digits and ._:@/+- "
            "starting with a letter or digit, got 'bad id'",
        ),
        (
            lambda a: a.grant("bad id", "USD", 100, "promotion", ""),
            "grant_id must be 1-128 characters of letters, digits and ._:@/+- "
            "starting with a letter or digit, got 'bad id'",
        ),
        (
            lambda a: a.apply_to_invoice("bad id", "USD", 100),
            "invoice_id must be 1-128 characters of letters, digits and ._:@/+- "
            "starting with a letter or digit, got 'bad id'",
        ),
        (
            lambda _: CreditAccount.open("bad id"),
            "account_id must be 1-128 characters of letters, digits and ._:@/+- "
            "starting with a letter or digit, got 'bad id'",
        ),
        (
            lambda a: a.buy_calling_credits("purchase-2", "USD", 0),
            "price_minor must be greater than zero, got 0",
        ),
        (
            lambda a: a.buy_calling_credits("purchase-1", "USD", 200),
            "purchase_id 'purchase-1' was already recorded with different content: "
            "price_minor 100 recorded, 200 given",
        ),
        (
            lambda a: a.apply_to_invoice("inv-1", "USD", 900),
            "invoice_id 'inv-1' was already recorded with different content: "
            "invoice_total_minor 300 recorded, 900 given",
        ),
        (
            lambda a: a.apply_to_invoice("inv-2", "USD", -1),
            "invoice_total_minor must be zero or more, got -1",
        ),
        (
            lambda a: a.grant("grant-2", "USD", 0, "promotion", ""),
            "amount_minor must be greater than zero, got 0",
        ),
    ],
)
def test_each_command_names_the_field_it_refuses(
    command: Callable[[CreditAccount], object], message: str
) -> None:
    # given an account with a purchase and an invoice recorded
    account = CreditAccount.open("acct-alice")
    account.buy_calling_credits("purchase-1", "USD", 100)
    account.apply_to_invoice("inv-1", "USD", 300)
    # when a command breaks a rule, then the refusal names the field and value
    with pytest.raises((InvalidCommandError, IdempotencyConflictError)) as raised:
        command(account)
    assert str(raised.value) == message


def test_an_invoice_of_zero_is_decided_not_refused() -> None:
    account = CreditAccount.open("acct-alice")
    assert account.apply_to_invoice("inv-0", "USD", 0).event.amount_due_minor == 0


def test_an_unknown_currency_is_quoted() -> None:
    with pytest.raises(InvalidCommandError) as raised:
        to_minor("1.00", "XYZ")
    assert str(raised.value) == "unknown currency 'XYZ': use an ISO 4217 code such as USD"


def test_a_grant_past_the_balance_limit_names_the_currency_and_the_figures() -> None:
    account = CreditAccount.open("acct-alice")
    account.grant("grant-1", "EUR", 10**15, "promotion", "")
    with pytest.raises(InvalidCommandError) as raised:
        account.grant("grant-2", "EUR", 1, "promotion", "")
    assert str(raised.value) == (
        f"a grant of 1 would take the EUR balance ({10**15}) past the limit of {10**15} minor units"
    )


def test_a_bad_reason_or_note_is_named() -> None:
    with pytest.raises(InvalidCommandError) as reason:
        check_reason("bribe")
    assert str(reason.value) == "reason must be one of compensation, refund, promotion, goodwill, got 'bribe'"
    with pytest.raises(InvalidCommandError) as note:
        check_note("x" * 1001)
    assert str(note.value) == "note must be at most 1000 characters, got 1001"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: check_note(5), "note must be text"),
        (lambda: check_note("a\ud800"), "note must be valid Unicode (it holds a lone surrogate)"),
        (lambda: check_currency("usd"), "currency must be an ISO 4217 code such as USD, got 'usd'"),
        (
            lambda: check_minor_units("amount_minor", 2.5, allow_zero=False),  # type: ignore[arg-type]
            "amount_minor must be an integer number of minor units",
        ),
        (
            lambda: check_minor_units("amount_minor", 10**15 + 1, allow_zero=False),
            "amount_minor must be at most 1000000000000000, got 1000000000000001",
        ),
    ],
)
def test_each_text_and_number_rule_says_what_it_refused(check: Callable[[], None], message: str) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        check()
    assert str(raised.value) == message


def test_a_key_with_a_dot_segment_is_quoted() -> None:
    with pytest.raises(InvalidCommandError) as raised:
        CreditAccount.open("tenant/../acct")
    assert str(raised.value) == "account_id must not have '.' or '..' as a path segment, got 'tenant/../acct'"
