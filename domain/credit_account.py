"""The CreditAccount aggregate: one customer account's promotional credits.

Every decision the account makes is recorded as an event that carries what an
auditor needs without recomputing: the business key, the amounts and the
balance after. The stored topic of each event class is this module's path, so
these classes must not move or be renamed without registering the old topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as LibrarySnapshot

from domain.errors import IdempotencyConflictError
from domain.rules import (
    check_balance_bound,
    check_currency,
    check_key,
    check_minor_units,
    check_note,
    check_reason,
)

_ACCOUNT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:promotional-credits:account")

# ISO 4217's own code for "no currency involved": a void that arrives before
# its invoice restores nothing, in no currency, since none is known yet.
NO_CURRENCY = "XXX"

E = TypeVar("E")


@dataclass(frozen=True)
class Outcome(Generic[E]):
    """The event that records a command's decision, and whether it is new.

    A repeated command returns the event recorded the first time, with
    ``is_new`` false, so callers can answer a retry exactly as before.
    """

    event: E
    is_new: bool


class CreditAccount(Aggregate):
    """A customer account's promotional-credit wallet, one balance per currency."""

    class Opened(Aggregate.Created):
        account_id: str

    class CreditGranted(Aggregate.Event):
        grant_id: str
        currency: str
        amount_minor: int
        reason: str
        note: str
        balance_after_minor: int

        def remember(self, aggregate: CreditAccount) -> None:
            aggregate._grants[self.grant_id] = self

        def apply(self, aggregate: CreditAccount) -> None:
            self.remember(aggregate)
            aggregate._add(self.currency, granted=self.amount_minor)

    class CreditApplied(Aggregate.Event):
        invoice_id: str
        currency: str
        invoice_total_minor: int
        credits_applied_minor: int
        amount_due_minor: int
        balance_after_minor: int

        def remember(self, aggregate: CreditAccount) -> None:
            aggregate._invoices[self.invoice_id] = self

        def apply(self, aggregate: CreditAccount) -> None:
            self.remember(aggregate)
            aggregate._add(self.currency, applied=self.credits_applied_minor)

    class CallingCreditPurchased(Aggregate.Event):
        purchase_id: str
        currency: str
        price_minor: int
        credits_used_minor: int
        amount_due_minor: int
        balance_after_minor: int

        def remember(self, aggregate: CreditAccount) -> None:
            aggregate._purchases[self.purchase_id] = self

        def apply(self, aggregate: CreditAccount) -> None:
            self.remember(aggregate)
            aggregate._add(self.currency, used=self.credits_used_minor)

    class CreditRestored(Aggregate.Event):
        """An invoice was voided: what its decision applied is given back.

        A void that comes before its invoice is recorded too, restoring 0 in
        ``NO_CURRENCY``, so that every void has one recorded decision and the
        invoice, when it comes, applies nothing.
        """

        invoice_id: str
        currency: str
        credits_restored_minor: int
        balance_after_minor: int

        def remember(self, aggregate: CreditAccount) -> None:
            aggregate._voids[self.invoice_id] = self

        def apply(self, aggregate: CreditAccount) -> None:
            self.remember(aggregate)
            aggregate._add(self.currency, restored=self.credits_restored_minor)

    class Snapshot(LibrarySnapshot):
        """The account's totals, without the recorded events it knows.

        Those grow with history; leaving them out keeps a snapshot, and so a
        cold write, the same size however long the account has lived. A
        command whose key the account does not know is caught by the store,
        which refuses a business key recorded twice; the application then
        recalls the recorded event and the command answers from it.
        """

        @classmethod
        def take(cls, aggregate: Any) -> CreditAccount.Snapshot:
            snapshot = super().take(aggregate)
            for name in _KNOWN_EVENTS:
                snapshot.state.pop(name, None)
            return snapshot

        def mutate(self, _: None) -> CreditAccount:
            account = super().mutate(None)
            assert isinstance(account, CreditAccount)
            account._start_knowing_nothing()
            return account

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self._balances: dict[str, int] = {}
        self._granted: dict[str, int] = {}
        self._applied: dict[str, int] = {}
        self._used: dict[str, int] = {}
        self._restored: dict[str, int] = {}
        self._start_knowing_nothing()

    @staticmethod
    def id_for(account_id: str) -> UUID:
        """The aggregate id is derived from the business id, so that two
        writers opening the same account race on one stream and one loses."""
        return uuid5(_ACCOUNT_NAMESPACE, account_id)

    @classmethod
    def open(cls, account_id: str) -> CreditAccount:
        check_key("account_id", account_id)
        return cls._create(cls.Opened, id=cls.id_for(account_id), account_id=account_id)

    # Commands

    def grant(
        self, grant_id: str, currency: str, amount_minor: int, reason: str, note: str
    ) -> Outcome[CreditAccount.CreditGranted]:
        check_key("grant_id", grant_id)
        check_currency(currency)
        check_minor_units("amount_minor", amount_minor, allow_zero=False)
        check_reason(reason)
        check_note(note)
        recorded = self._grants.get(grant_id)
        if recorded is not None:
            self._check_same(
                "grant_id",
                grant_id,
                recorded,
                {"currency": currency, "amount_minor": amount_minor, "reason": reason, "note": note},
            )
            return Outcome(recorded, is_new=False)
        check_balance_bound(currency, self.balance(currency), amount_minor)
        self.trigger_event(
            self.CreditGranted,
            grant_id=grant_id,
            currency=currency,
            amount_minor=amount_minor,
            reason=reason,
            note=note,
            balance_after_minor=self.balance(currency) + amount_minor,
        )
        return Outcome(self._grants[grant_id], is_new=True)

    def apply_to_invoice(
        self, invoice_id: str, currency: str, invoice_total_minor: int
    ) -> Outcome[CreditAccount.CreditApplied]:
        """Record this invoice's one decision, even when no credit applies,
        so that billing is never told two different things."""
        check_key("invoice_id", invoice_id)
        check_currency(currency)
        check_minor_units("invoice_total_minor", invoice_total_minor, allow_zero=True)
        recorded = self._invoices.get(invoice_id)
        if recorded is not None:
            self._check_same(
                "invoice_id",
                invoice_id,
                recorded,
                {"currency": currency, "invoice_total_minor": invoice_total_minor},
            )
            return Outcome(recorded, is_new=False)
        # A voided invoice is never paid with credits.
        applied = 0 if invoice_id in self._voids else min(self.balance(currency), invoice_total_minor)
        self.trigger_event(
            self.CreditApplied,
            invoice_id=invoice_id,
            currency=currency,
            invoice_total_minor=invoice_total_minor,
            credits_applied_minor=applied,
            amount_due_minor=invoice_total_minor - applied,
            balance_after_minor=self.balance(currency) - applied,
        )
        return Outcome(self._invoices[invoice_id], is_new=True)

    def void_invoice(self, invoice_id: str) -> Outcome[CreditAccount.CreditRestored]:
        """Give back exactly what the invoice's decision applied (0 included),
        once: a repeated void returns the recorded restore.

        The balance bound is not checked: a void must never be refused, and
        what comes back was in the balance once, so the sum stays below twice
        the bound, far from any overflow. Grants then see the bound exceeded.
        """
        check_key("invoice_id", invoice_id)
        recorded = self._voids.get(invoice_id)
        if recorded is not None:
            return Outcome(recorded, is_new=False)
        decision = self._invoices.get(invoice_id)
        currency = decision.currency if decision else NO_CURRENCY
        restored = decision.credits_applied_minor if decision else 0
        self.trigger_event(
            self.CreditRestored,
            invoice_id=invoice_id,
            currency=currency,
            credits_restored_minor=restored,
            balance_after_minor=self.balance(currency) + restored,
        )
        return Outcome(self._voids[invoice_id], is_new=True)

    def buy_calling_credits(
        self, purchase_id: str, currency: str, price_minor: int
    ) -> Outcome[CreditAccount.CallingCreditPurchased]:
        """Credits cannot pay for calls, but they can buy calling credits."""
        check_key("purchase_id", purchase_id)
        check_currency(currency)
        check_minor_units("price_minor", price_minor, allow_zero=False)
        recorded = self._purchases.get(purchase_id)
        if recorded is not None:
            self._check_same(
                "purchase_id", purchase_id, recorded, {"currency": currency, "price_minor": price_minor}
            )
            return Outcome(recorded, is_new=False)
        used = min(self.balance(currency), price_minor)
        self.trigger_event(
            self.CallingCreditPurchased,
            purchase_id=purchase_id,
            currency=currency,
            price_minor=price_minor,
            credits_used_minor=used,
            amount_due_minor=price_minor - used,
            balance_after_minor=self.balance(currency) - used,
        )
        return Outcome(self._purchases[purchase_id], is_new=True)

    # Queries

    def balance(self, currency: str) -> int:
        return self._balances.get(currency, 0)

    @property
    def balances(self) -> dict[str, int]:
        """Balances of every currency the account was ever granted, sorted."""
        return dict(sorted(self._balances.items()))

    @property
    def visible(self) -> bool:
        """The dashboard shows the balance only while there is some."""
        return any(self._balances.values())

    def totals(self, currency: str) -> tuple[int, int, int]:
        """Granted, applied to invoices and spent on calling credits."""
        return (
            self._granted.get(currency, 0),
            self._applied.get(currency, 0),
            self._used.get(currency, 0),
        )

    def restored(self, currency: str) -> int:
        """Credits given back by voided invoices."""
        return self._restored.get(currency, 0)

    def decision_for(self, invoice_id: str) -> CreditAccount.CreditApplied | None:
        return self._invoices.get(invoice_id)

    def void_for(self, invoice_id: str) -> CreditAccount.CreditRestored | None:
        return self._voids.get(invoice_id)

    def first_for(self, invoice_id: str) -> CreditAccount.CreditApplied | CreditAccount.CreditRestored | None:
        """The account's first event about the invoice: the one that claims its id."""
        events = [e for e in (self._invoices.get(invoice_id), self._voids.get(invoice_id)) if e is not None]
        return min(events, key=lambda e: e.originator_version, default=None)

    # What the account knows of its recorded events

    def recall(self, events: Iterable[Any]) -> None:
        """Know these recorded events again (read back from the store by
        their business keys), so that commands about them answer from them."""
        for event in events:
            if isinstance(event, RECALLABLE) and event.originator_id == self.id:
                event.remember(self)

    def forget_recorded_events(self) -> None:
        """Keep only the totals in memory: a long-lived account in a cache
        must not grow with every event it records."""
        self._start_knowing_nothing()

    # Internals

    def _start_knowing_nothing(self) -> None:
        self._grants: dict[str, CreditAccount.CreditGranted] = {}
        self._invoices: dict[str, CreditAccount.CreditApplied] = {}
        self._purchases: dict[str, CreditAccount.CallingCreditPurchased] = {}
        self._voids: dict[str, CreditAccount.CreditRestored] = {}

    def _add(
        self, currency: str, granted: int = 0, applied: int = 0, used: int = 0, restored: int = 0
    ) -> None:
        if granted:
            self._granted[currency] = self._granted.get(currency, 0) + granted
            self._balances[currency] = self.balance(currency) + granted
        if applied:
            self._applied[currency] = self._applied.get(currency, 0) + applied
            self._balances[currency] = self.balance(currency) - applied
        if used:
            self._used[currency] = self._used.get(currency, 0) + used
            self._balances[currency] = self.balance(currency) - used
        if restored:
            self._restored[currency] = self._restored.get(currency, 0) + restored
            self._balances[currency] = self.balance(currency) + restored

    @staticmethod
    def _check_same(kind: str, key: str, recorded: object, given: dict[str, object]) -> None:
        differences = [
            f"{name} {getattr(recorded, name)!r} recorded, {value!r} given"
            for name, value in given.items()
            if getattr(recorded, name) != value
        ]
        if differences:
            raise IdempotencyConflictError(
                f"{kind} {key!r} was already recorded with different content: {'; '.join(differences)}"
            )


# The attributes that hold recorded events by business key: never snapshotted.
_KNOWN_EVENTS = ("_grants", "_invoices", "_purchases", "_voids")


# Business keys: one per recorded decision, unique within its account. An
# invoice's decision and its void are two keys of the same invoice.


def grant_key(grant_id: str) -> str:
    return f"grant:{grant_id}"


def invoice_key(invoice_id: str) -> str:
    return f"invoice:{invoice_id}"


def purchase_key(purchase_id: str) -> str:
    return f"purchase:{purchase_id}"


def void_key(invoice_id: str) -> str:
    return f"void:{invoice_id}"


# Where each recorded decision keeps the id its business key is made from,
# for the ledger and for stores that derive the keys of events recorded
# before keys were kept.
KEY_OF_EVENT: dict[type[Aggregate.Event], tuple[str, Callable[[str], str]]] = {
    CreditAccount.CreditGranted: ("grant_id", grant_key),
    CreditAccount.CreditApplied: ("invoice_id", invoice_key),
    CreditAccount.CallingCreditPurchased: ("purchase_id", purchase_key),
    CreditAccount.CreditRestored: ("invoice_id", void_key),
}
# The decisions an account can recall: those with a business key.
RECALLABLE = (
    CreditAccount.CreditGranted,
    CreditAccount.CreditApplied,
    CreditAccount.CallingCreditPurchased,
    CreditAccount.CreditRestored,
)


def business_key(event: Aggregate.Event) -> str:
    """The recorded decision's key in its account (see KEY_OF_EVENT)."""
    field, key_of = KEY_OF_EVENT[type(event)]
    return key_of(getattr(event, field))
