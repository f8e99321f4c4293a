"""Events as a release without input validation could have recorded them.

They are written straight to the event store, around the domain's checks, the
way stores created before those checks hold them today.
"""

from __future__ import annotations

from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError

from application.ledger import Ledger
from domain.credit_account import CreditAccount


def opened_unchecked(account_id: str) -> CreditAccount:
    return CreditAccount._create(
        CreditAccount.Opened, id=CreditAccount.id_for(account_id), account_id=account_id
    )


def account_for(ledger: Ledger, account_id: str) -> CreditAccount:
    # By id, not through the ledger, which refuses ids it would not record now.
    try:
        return cast(CreditAccount, ledger.repository.get(CreditAccount.id_for(account_id)))
    except AggregateNotFoundError:
        return opened_unchecked(account_id)


def grant_unchecked(
    ledger: Ledger,
    account_id: str,
    grant_id: str,
    amount_minor: Any,
    *,
    currency: str = "USD",
    reason: str = "promotion",
    note: Any = "",
) -> int:
    """Record a grant whatever its values; returns its notification id."""
    account = account_for(ledger, account_id)
    account.trigger_event(
        CreditAccount.CreditGranted,
        grant_id=grant_id,
        currency=currency,
        amount_minor=amount_minor,
        reason=reason,
        note=note,
        balance_after_minor=account.balance(currency) + amount_minor,
    )
    return _saved(ledger, account)


def invoice_unchecked(ledger: Ledger, account_id: str, invoice_id: str, total_minor: int) -> int:
    """Record an invoice decision with the ledger's rules but none of its bounds."""
    account = account_for(ledger, account_id)
    applied = min(account.balance("USD"), total_minor)
    account.trigger_event(
        CreditAccount.CreditApplied,
        invoice_id=invoice_id,
        currency="USD",
        invoice_total_minor=total_minor,
        credits_applied_minor=applied,
        amount_due_minor=total_minor - applied,
        balance_after_minor=account.balance("USD") - applied,
    )
    return _saved(ledger, account)


def _saved(ledger: Ledger, account: CreditAccount) -> int:
    recordings = ledger.save(account)
    ledger.forget_cached_accounts()
    position = recordings[-1].notification.id
    assert position is not None
    return position
