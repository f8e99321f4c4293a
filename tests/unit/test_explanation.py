"""The explanation support reads when credits are "not showing": its sentences
and its facts, from a real ledger on the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.explanation import MAX_CLOSE_MATCHES, Explainer, explain
from application.ledger import Ledger
from domain.errors import InvalidCommandError


class KnownIds:
    """The KnownAccounts port over a fixed set of ids, folded as the views fold them."""

    def __init__(self, *ids: str) -> None:
        self.ids = ids
        self.asked: list[str] = []

    def same_ignoring_case(self, account_id: str, limit: int) -> list[str]:
        self.asked.append(account_id)
        return sorted(i for i in self.ids if i.lower() == account_id.lower())[:limit]


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    built = Ledger()
    yield built
    built.close()


def test_credits_used_up_are_hidden_and_the_invoices_that_used_them_are_named(ledger: Ledger) -> None:
    # given 25.00 USD granted, then an invoice of 40.00 and one of 10.00
    ledger.grant("acct-alice", "grant-001", "USD", 2500, "compensation", "outage in May")
    ledger.apply_invoice("acct-alice", "inv-2026-001", "USD", 4000)
    ledger.apply_invoice("acct-alice", "inv-2026-002", "USD", 1000)
    # when support asks why no credits show
    explained = explain("acct-alice", ledger, KnownIds("acct-alice"))
    # then the dashboard hides them because the balance is zero
    assert explained.known is True
    assert explained.visible is False
    assert [(b.currency, b.balance_minor, b.balance) for b in explained.balances] == [("USD", 0, "0.00 USD")]
    first, grant, used, nothing = explained.sentences
    assert "for 'acct-alice' (visible: false) because every balance is zero" in first
    # and every grant and invoice is a sentence with amounts in major units
    assert grant.endswith(
        'grant grant-001 added 25.00 USD (compensation, note "outage in May"); the balance became 25.00 USD.'
    )
    assert used.endswith(
        "invoice inv-2026-001 (total 40.00 USD) used 25.00 USD of credits; "
        "15.00 USD was due from the payment method and 0.00 USD was left."
    )
    assert nothing.endswith(
        "invoice inv-2026-002 (total 10.00 USD) used no credits: "
        "the USD balance was zero then, so the payment method paid it all."
    )
    # and the facts list the grant and where the credits went
    assert [(g["grant_id"], g["amount_minor"], g["currency"], g["reason"]) for g in explained.grants] == [
        ("grant-001", 2500, "USD", "compensation")
    ]
    assert [(u["invoice_id"], u["amount_minor"], u["amount"]) for u in explained.usage] == [
        ("inv-2026-001", 2500, "25.00 USD"),
        ("inv-2026-002", 0, "0.00 USD"),
    ]
    assert explained.grants[0]["occurred_at"].endswith("Z")
    assert explained.other_entries == [] and explained.close_matches == []


def test_a_balance_left_is_shown_in_each_currency_and_purchases_are_explained(ledger: Ledger) -> None:
    # given credits in two currencies, some spent on calling credits
    ledger.grant("acct-bob", "grant-usd", "USD", 3000, "goodwill")
    ledger.grant("acct-bob", "grant-jpy", "JPY", 500, "promotion")
    ledger.buy_calling_credits("acct-bob", "buy-001", "USD", 1000)
    # when explained
    explained = explain("acct-bob", ledger, KnownIds())
    # then the dashboard shows both balances, in each currency's own units
    assert explained.visible is True
    assert explained.sentences[0].startswith(
        "The dashboard shows promotional credits for 'acct-bob' (visible: true): 500 JPY, 20.00 USD."
    )
    assert explained.sentences[-1].endswith(
        "calling-credit purchase buy-001 (price 10.00 USD) used 10.00 USD of credits; "
        "0.00 USD was due from the payment method and 20.00 USD was left."
    )
    assert [u["purchase_id"] for u in explained.usage] == ["buy-001"]


def test_an_account_with_invoices_but_no_grant_says_it_was_never_granted_credits(ledger: Ledger) -> None:
    ledger.apply_invoice("acct-dan", "inv-1", "USD", 500)
    explained = explain("acct-dan", ledger, KnownIds("acct-dan"))
    assert explained.known is True and explained.visible is False
    assert "was never granted any credits" in explained.sentences[0]


def test_an_unknown_account_names_the_known_ids_that_differ_only_in_case(ledger: Ledger) -> None:
    # given credits granted to "acct-Carol"
    ledger.grant("acct-Carol", "grant-1", "EUR", 1000, "refund")
    # when support asks about "acct-carol"
    explained = explain("acct-carol", ledger, KnownIds("acct-Carol", "ACCT-CAROL", "acct-other"))
    # then it is unknown, hidden, and both close matches are named
    assert (explained.known, explained.visible) == (False, False)
    assert explained.close_matches == ["ACCT-CAROL", "acct-Carol"]
    assert explained.sentences == [
        "Account 'acct-carol' is unknown to the ledger: nothing was ever recorded for it.",
        "The dashboard shows no promotional credits for an unknown account (visible: false).",
        "Known account ids that differ only in case or whitespace: 'ACCT-CAROL', 'acct-Carol'. "
        "The credits may have been granted to one of these; check which id the customer uses.",
    ]
    assert explained.grants == explained.usage == explained.balances == []


def test_an_id_with_whitespace_is_explained_as_the_id_without_it(ledger: Ledger) -> None:
    # given credits granted to "acct-erin"
    ledger.grant("acct-erin", "grant-1", "USD", 100, "goodwill")
    known = KnownIds("acct-erin")
    # when support pastes " acct-erin\t" from an e-mail
    explained = explain(" acct-erin\t", ledger, known)
    # then it is unknown as given, and the id without whitespace is the close match
    assert known.asked == ["acct-erin"]
    assert explained.known is False
    assert explained.close_matches == ["acct-erin"]
    assert "it holds whitespace, which no account id can" in explained.sentences[0]


def test_an_unknown_id_with_no_close_match_says_so(ledger: Ledger) -> None:
    explained = Explainer(ledger, KnownIds("acct-zed")).explain("acct-nobody")
    assert explained.close_matches == []
    assert explained.sentences[-1] == "No known account id differs from it only in case or whitespace."


def test_close_matches_are_bounded(ledger: Ledger) -> None:
    # given sixteen known ids that differ from "acct-abcd" only in case
    ids = ["acct-" + "".join(c.upper() if n >> i & 1 else c for i, c in enumerate("abcd")) for n in range(16)]
    # when an unknown one of them is explained
    ledger.grant("acct-other", "grant-1", "USD", 100, "goodwill")
    explained = explain("acct-abcd", ledger, KnownIds(*ids))
    # then at most MAX_CLOSE_MATCHES are named, never the id itself
    assert len(explained.close_matches) == MAX_CLOSE_MATCHES
    assert "acct-abcd" not in explained.close_matches


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("acct alice!", "account_id must be 1-128 characters"),
        ("a" * 129, "account_id must be 1-128 characters"),
        ("x" * 257, "account_id must be at most 256 characters"),
        ("acct/../x", "must not have '.' or '..' as a path segment"),
        ("", "account_id must be 1-128 characters"),
    ],
)
def test_text_that_could_never_be_an_account_id_is_refused(ledger: Ledger, given: str, why: str) -> None:
    with pytest.raises(InvalidCommandError, match=why.replace(".", r"\.")):
        explain(given, ledger, KnownIds())
