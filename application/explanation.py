"""Why an account shows the promotional credits it shows: an answer for support.

It answers the help centre's "I was supposed to receive promotional credits,
but they're not showing" from the ledger's own entries: whether the dashboard
shows a balance and why, every grant, where the credits went, and, when the
account is unknown, which known account ids differ only in case or
whitespace, since a mistyped id is a common cause.

Each kind of entry has its sentence in ``_SENTENCES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC
from typing import Any, Protocol

from application.entries import CREDITING, GRANT, INVOICE, PURCHASE, RESTORE, EntryKind, LedgerEntry, rfc3339
from application.money import with_currency as _money
from domain.credit_account import NO_CURRENCY
from domain.errors import InvalidCommandError
from domain.rules import check_key, quoted

# More than enough for every real id plus stray spaces; anything longer is
# refused before it is looked at character by character.
MAX_GIVEN_CHARS = 256
# Ids that differ from the given one only in case: a handful at most in
# practice, and the answer must stay small whatever the data holds.
MAX_CLOSE_MATCHES = 10


class KnownAccounts(Protocol):
    """Account ids the service has seen, looked up by an index, never a scan."""

    def same_ignoring_case(self, account_id: str, limit: int) -> list[str]:
        """Known account ids equal to ``account_id`` ignoring ASCII case
        (``account_id`` itself included when it is known), sorted."""
        ...


class AccountEntries(Protocol):
    def entries(self, account_id: str) -> list[LedgerEntry]: ...


@dataclass(frozen=True)
class Balance:
    """A currency's balance and where it came from:
    granted - used + restored = balance."""

    currency: str
    balance_minor: int
    balance: str
    granted_minor: int = 0
    # Applied to invoices and used for calling credits.
    used_minor: int = 0
    # Given back by voided invoices.
    restored_minor: int = 0


@dataclass(frozen=True)
class Explanation:
    account_id: str
    known: bool
    visible: bool
    balances: list[Balance]
    grants: list[dict[str, Any]]
    # What took credits from the balance: invoices and calling-credit purchases.
    usage: list[dict[str, Any]]
    close_matches: list[str]
    sentences: list[str] = field(default_factory=list)
    # Voided invoices and the credits they gave back.
    restores: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def explain(account_id: str, ledger: AccountEntries, known: KnownAccounts) -> Explanation:
    """The explanation for ``account_id`` as a person typed it; refuses only
    text that could not be an account id even with its whitespace removed."""
    if not isinstance(account_id, str) or len(account_id) > MAX_GIVEN_CHARS:
        raise InvalidCommandError(f"account_id must be at most {MAX_GIVEN_CHARS} characters")
    compact = "".join(account_id.split())
    try:
        check_key("account_id", compact)
    except InvalidCommandError:
        # Refused quoting what was given, not what was left of it.
        check_key("account_id", account_id)
        raise
    if compact != account_id:
        # No account can hold whitespace: explain the id it most likely meant.
        matches = known.same_ignoring_case(compact, MAX_CLOSE_MATCHES)
        return _unknown(account_id, matches, "it holds whitespace, which no account id can")
    entries = ledger.entries(account_id)
    if not entries:
        matches = [m for m in known.same_ignoring_case(account_id, MAX_CLOSE_MATCHES + 1) if m != account_id]
        return _unknown(account_id, matches[:MAX_CLOSE_MATCHES], "nothing was ever recorded for it")
    return _known(account_id, entries)


def _unknown(account_id: str, matches: list[str], why: str) -> Explanation:
    sentences = [
        f"Account {quoted(account_id)} is unknown to the ledger: {why}.",
        "The dashboard shows no promotional credits for an unknown account (visible: false).",
    ]
    if matches:
        listed = ", ".join(repr(m) for m in matches)
        sentences.append(
            f"Known account ids that differ only in case or whitespace: {listed}. "
            "The credits may have been granted to one of these; check which id the customer uses."
        )
    else:
        sentences.append("No known account id differs from it only in case or whitespace.")
    return Explanation(account_id, False, False, [], [], [], matches, sentences)


def _known(account_id: str, entries: list[LedgerEntry]) -> Explanation:
    balances = _balances(entries)
    visible = any(b.balance_minor > 0 for b in balances)
    grants = [e for e in entries if e.kind == GRANT]
    restores = [e for e in entries if e.kind == RESTORE]
    sentences = [_visibility(account_id, visible, balances, bool(grants), bool(restores))]
    sentences.extend(_sentence(entry) for entry in entries)
    return Explanation(
        account_id=account_id,
        known=True,
        visible=visible,
        balances=balances,
        grants=[_fact(e) for e in grants],
        usage=[_fact(e) for e in entries if e.kind in (INVOICE, PURCHASE)],
        close_matches=[],
        sentences=sentences,
        restores=[_restore_fact(e) for e in restores],
    )


def _balances(entries: list[LedgerEntry]) -> list[Balance]:
    """Each currency's last balance and its totals. A void recorded before
    its invoice has no currency (``NO_CURRENCY``) and holds no balance."""
    last: dict[str, int] = {}
    totals: dict[str, dict[str, int]] = {}
    for entry in entries:
        if entry.currency == NO_CURRENCY:
            continue
        last[entry.currency] = entry.balance_after_minor
        total = totals.setdefault(entry.currency, {GRANT: 0, RESTORE: 0, INVOICE: 0})
        # Invoices and purchases both take from the balance: "used".
        total[entry.kind if entry.kind in CREDITING else INVOICE] += entry.amount_minor
    return [
        Balance(c, b, _money(b, c), totals[c][GRANT], totals[c][INVOICE], totals[c][RESTORE])
        for c, b in sorted(last.items())
    ]


def _visibility(
    account_id: str, visible: bool, balances: list[Balance], granted: bool, restored: bool
) -> str:
    if visible:
        held = ", ".join(_money(b.balance_minor, b.currency) for b in balances if b.balance_minor > 0)
        return (
            f"The dashboard shows promotional credits for {quoted(account_id)} (visible: true): {held}. "
            "They are applied automatically to the next invoice in the same currency."
        )
    if not granted:
        return (
            f"The dashboard hides promotional credits for {quoted(account_id)} (visible: false): "
            "the account has invoices on record but was never granted any credits."
        )
    given_back = ", and any given back by voided invoices," if restored else ""
    return (
        f"The dashboard hides promotional credits for {quoted(account_id)} (visible: false) because "
        f"every balance is zero: all the credits granted{given_back} were used by the invoices and "
        "purchases below."
    )


def _fact(entry: LedgerEntry) -> dict[str, Any]:
    """The entry's history line plus its amounts in major units, for people."""
    line = entry.history_json()
    line["amount"] = _money(entry.amount_minor, entry.currency)
    line["balance"] = _money(entry.balance_after_minor, entry.currency)
    return line


def _restore_fact(entry: LedgerEntry) -> dict[str, Any]:
    """A voided invoice: what it gave back, and whether it came before its invoice."""
    return {
        "invoice_id": entry.key,
        "currency": entry.currency,
        "credits_restored_minor": entry.amount_minor,
        "credits_restored": _money(entry.amount_minor, entry.currency),
        "balance_minor": entry.balance_after_minor,
        "balance": _money(entry.balance_after_minor, entry.currency),
        "before_invoice": entry.currency == NO_CURRENCY,
        "occurred_at": rfc3339(entry.occurred_at),
        "event_id": entry.event_id,
    }


def _when(entry: LedgerEntry) -> str:
    # To the minute for people; the facts carry the exact RFC 3339 time.
    return entry.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _grant(e: LedgerEntry) -> str:
    note = f', note "{e.note}"' if e.note else ""
    return (
        f"On {_when(e)} grant {e.key} added {_money(e.amount_minor, e.currency)} ({e.reason}{note}); "
        f"the balance became {_money(e.balance_after_minor, e.currency)}."
    )


def _invoice(e: LedgerEntry) -> str:
    return _spent(e, f"invoice {e.key} (total {_money(e.invoice_total_minor or 0, e.currency)})")


def _purchase(e: LedgerEntry) -> str:
    return _spent(e, f"calling-credit purchase {e.key} (price {_money(e.price_minor or 0, e.currency)})")


def _spent(e: LedgerEntry, what: str) -> str:
    """An entry that charged the balance what it could and left the rest due."""
    if e.amount_minor == 0:
        return (
            f"On {_when(e)} {what} used no credits: "
            f"the {e.currency} balance was zero then, so the payment method paid it all."
        )
    return (
        f"On {_when(e)} {what} used {_money(e.amount_minor, e.currency)} of credits; "
        f"{_money(e.amount_due_minor or 0, e.currency)} was due from the payment method and "
        f"{_money(e.balance_after_minor, e.currency)} was left."
    )


def _restore(e: LedgerEntry) -> str:
    if e.currency == NO_CURRENCY:
        return (
            f"On {_when(e)} invoice {e.key} was voided before it was issued, so it will use no credits "
            "and none were given back."
        )
    if e.amount_minor == 0:
        return (
            f"On {_when(e)} invoice {e.key} was voided; it had used no credits, so none were given back "
            f"and the balance stayed {_money(e.balance_after_minor, e.currency)}."
        )
    return (
        f"On {_when(e)} invoice {e.key} was voided and its {_money(e.amount_minor, e.currency)} of credits "
        f"were given back; the balance became {_money(e.balance_after_minor, e.currency)}."
    )


# One template per kind of entry.
_SENTENCES: dict[EntryKind, Callable[[LedgerEntry], str]] = {
    GRANT: _grant,
    INVOICE: _invoice,
    PURCHASE: _purchase,
    RESTORE: _restore,
}


def _sentence(entry: LedgerEntry) -> str:
    return _SENTENCES[entry.kind](entry)


class Explainer:
    """``explain`` bound to the ledger and the known account ids it reads."""

    def __init__(self, ledger: AccountEntries, known: KnownAccounts) -> None:
        self.ledger = ledger
        self.known = known

    def explain(self, account_id: str) -> Explanation:
        return explain(account_id, self.ledger, self.known)
