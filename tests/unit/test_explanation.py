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
    assert explained.restores == [] and explained.close_matches == []
    assert [(b.granted_minor, b.used_minor, b.restored_minor) for b in explained.balances] == [
        (2500, 2500, 0)
    ]


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


def test_a_voided_invoice_gives_its_credits_back_in_a_sentence_and_a_restore_fact(ledger: Ledger) -> None:
    # given 25.00 USD granted, an invoice of 40.00 that used it all, then voided
    ledger.grant("acct-vera", "grant-001", "USD", 2500, "compensation")
    ledger.apply_invoice("acct-vera", "inv-2026-001", "USD", 4000)
    ledger.void_invoice("acct-vera", "inv-2026-001")
    # when support asks why the credits show again
    explained = explain("acct-vera", ledger, KnownIds("acct-vera"))
    # then the dashboard shows them, and the void is a sentence of its own
    assert explained.visible is True
    assert explained.sentences[-1].endswith(
        "invoice inv-2026-001 was voided and its 25.00 USD of credits were given back; "
        "the balance became 25.00 USD."
    )
    # and a restore fact, not an other entry
    (restore,) = explained.restores
    assert {
        k: restore[k] for k in ("invoice_id", "currency", "credits_restored_minor", "before_invoice")
    } == {
        "invoice_id": "inv-2026-001",
        "currency": "USD",
        "credits_restored_minor": 2500,
        "before_invoice": False,
    }
    assert restore["credits_restored"] == restore["balance"] == "25.00 USD"
    assert restore["occurred_at"].endswith("Z")
    # and the totals account for it: granted - used + restored = balance
    (usd,) = explained.balances
    assert (usd.granted_minor, usd.used_minor, usd.restored_minor, usd.balance_minor) == (
        2500,
        2500,
        2500,
        2500,
    )


def test_a_void_before_its_invoice_will_use_no_credits_and_holds_no_balance(ledger: Ledger) -> None:
    # given 10.00 USD granted and a void of an invoice not generated yet
    ledger.grant("acct-walt", "grant-001", "USD", 1000, "goodwill")
    ledger.void_invoice("acct-walt", "inv-later")
    # when explained
    explained = explain("acct-walt", ledger, KnownIds("acct-walt"))
    # then the void says the invoice will use no credits
    assert explained.sentences[-1].endswith(
        "invoice inv-later was voided before it was issued, "
        "so it will use no credits and none were given back."
    )
    (restore,) = explained.restores
    assert (restore["currency"], restore["credits_restored_minor"], restore["before_invoice"]) == (
        "XXX",
        0,
        True,
    )
    # and no balance of no currency appears
    assert [(b.currency, b.balance_minor, b.restored_minor) for b in explained.balances] == [("USD", 1000, 0)]
    # and the invoice, when it comes, uses none of the 10.00
    ledger.apply_invoice("acct-walt", "inv-later", "USD", 400)
    later = explain("acct-walt", ledger, KnownIds("acct-walt"))
    assert later.visible is True
    assert "invoice inv-later (total 4.00 USD) used no credits" in later.sentences[-1]


def test_credits_used_up_after_a_void_say_the_given_back_credits_were_used_too(ledger: Ledger) -> None:
    # given 10.00 USD granted, used by an invoice, voided, then used by another
    ledger.grant("acct-xia", "grant-001", "USD", 1000, "promotion")
    ledger.apply_invoice("acct-xia", "inv-1", "USD", 1000)
    ledger.void_invoice("acct-xia", "inv-1")
    ledger.apply_invoice("acct-xia", "inv-2", "USD", 3000)
    # when explained
    explained = explain("acct-xia", ledger, KnownIds("acct-xia"))
    # then hidden, and the reason counts the credits the void gave back
    assert explained.visible is False
    assert (
        "all the credits granted, and any given back by voided invoices, were used" in explained.sentences[0]
    )
    (usd,) = explained.balances
    assert (usd.granted_minor, usd.used_minor, usd.restored_minor, usd.balance_minor) == (1000, 2000, 1000, 0)


def test_a_voided_invoice_that_used_no_credits_gives_nothing_back(ledger: Ledger) -> None:
    ledger.apply_invoice("acct-yan", "inv-1", "USD", 500)
    ledger.void_invoice("acct-yan", "inv-1")
    explained = explain("acct-yan", ledger, KnownIds("acct-yan"))
    assert explained.sentences[-1].endswith(
        "invoice inv-1 was voided; it had used no credits, "
        "so none were given back and the balance stayed 0.00 USD."
    )
    assert [r["credits_restored_minor"] for r in explained.restores] == [0]


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


def test_every_kind_of_entry_has_a_sentence_of_its_own() -> None:
    # then no kind of ledger entry can reach the explanation without one
    from typing import get_args

    from application.entries import EntryKind
    from application.explanation import _SENTENCES

    assert set(_SENTENCES) == set(get_args(EntryKind))
