"""Full verification of the record: replay every stored row and check every invariant.

Works on raw rows, not domain objects: decoding a few hundred thousand events
through the domain model is several times slower than parsing their JSON, and
an auditor must see the bytes as stored, including bytes the model would
reject. Memory grows with the number of accounts, never with the number of
events: per account only running totals are kept, and the index of decided
invoice ids keeps a bounded chunk in memory and the rest on disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import orjson

from application.audit.invoice_index import Decided, Duplicate, InvoiceIndex
from application.audit.restores import RestoreCheck, Restored, RestoreProblem
from application.audit.rows import OPENED, RawRow
from application.entries import INVOICE, RESTORE, SHAPES_BY_TOPIC
from application.tamper_chain import GENESIS, link
from domain.credit_account import NO_CURRENCY

# A store tampered with wholesale would otherwise hold millions of findings in
# memory; past this many, only the count is kept.
MAX_FINDINGS = 10_000

# Kinds of finding, stable strings an auditor can filter on.
CHAIN_MISMATCH = "chain_mismatch"
MISSING_EVENT = "missing_event"
UNCHAINED_EVENT = "unchained_event"
VERSION_GAP = "version_gap"
UNDECODABLE = "undecodable_event"
UNKNOWN_TOPIC = "unknown_topic"
BALANCE_MISMATCH = "balance_mismatch"
NEGATIVE_BALANCE = "negative_balance"
DECISION_RULE = "decision_rule"
DUPLICATE_INVOICE = "duplicate_invoice"
TOTALS_MISMATCH = "totals_mismatch"
VIEW_MISMATCH = "view_mismatch"
ANCHOR_MISMATCH = "anchor_mismatch"
RESTORED_TWICE = "restored_twice"
RESTORE_ABOVE_APPLIED = "restore_above_applied"


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded earlier, outside the database: the hash stored at
    ``position`` then. An unkeyed chain can be rewritten from any row onward,
    and its tail cut, without a break; only a head kept elsewhere shows that."""

    position: int
    chain_hash: bytes


# Findings about the tamper-evidence chain itself, as opposed to the replay.
CHAIN_KINDS = frozenset({CHAIN_MISMATCH, MISSING_EVENT, UNCHAINED_EVENT})


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    # The notification id of the stored event (its position in the record).
    position: int
    # The account's business id, or "originator <uuid>" when its Opened
    # event is unreadable, or None for a position with no event.
    account_id: str | None
    detail: str
    currency: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ViewBalance:
    """One account and currency as a balance read model holds it."""

    account_id: str
    currency: str
    balance_minor: int
    granted_minor: int
    applied_minor: int
    calling_credits_minor: int
    restored_minor: int = 0


@dataclass(frozen=True)
class ViewsSnapshot:
    """The balance read model read in one transaction with its tracking position.

    ``position`` is the notification id of the last ledger event the views
    reflect. The verifier compares the views with its replay at exactly that
    position, so views that lag behind a live store still compare exactly.
    """

    position: int
    balances: list[ViewBalance]


class ViewsReader(Protocol):
    """What the read-model side provides so verification can compare views."""

    def snapshot(self) -> ViewsSnapshot: ...


@dataclass
class Report:
    events_checked: int
    accounts_checked: int
    findings: list[Finding]
    findings_total: int
    # The last stored chain hash: record it, and a later verification or
    # export proves the history up to here was not rewritten.
    chain_head: bytes
    views_compared_at: int | None = field(default=None)
    # Where the chain head stands: record "HEX@POSITION" to anchor later checks.
    chain_head_position: int = field(default=0)

    @property
    def clean(self) -> bool:
        return self.findings_total == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "events_checked": self.events_checked,
            "accounts_checked": self.accounts_checked,
            "findings": [f.to_json() for f in self.findings],
            "findings_total": self.findings_total,
            "chain_head": self.chain_head.hex(),
            "chain_head_position": self.chain_head_position,
            # Ready for a later `audit verify --expect-head`.
            "chain_anchor": f"{self.chain_head.hex()}@{self.chain_head_position}",
            "views_compared_at": self.views_compared_at,
        }


class _Currency:
    __slots__ = ("applied", "balance", "granted", "last_position", "recorded", "restored", "used")

    def __init__(self) -> None:
        self.balance = 0
        self.granted = 0
        self.applied = 0
        self.used = 0
        self.restored = 0
        self.recorded = 0
        self.last_position = 0


class _Account:
    __slots__ = ("currencies", "name", "version", "voided_early")

    def __init__(self, originator_id: str) -> None:
        self.name = f"originator {originator_id}"
        self.version = 0
        self.currencies: dict[str, _Currency] = {}
        # Invoices voided before their decision, until it comes: only as
        # many as voids still wait for their invoice.
        self.voided_early: set[str] = set()


class Verifier:
    """Feed it every raw row in notification order, then call ``finish``."""

    def __init__(self, views: ViewsSnapshot | None = None, anchor: Anchor | None = None) -> None:
        self.events_checked = 0
        self._anchor = anchor
        self._anchor_checked = False
        self._position = 0
        self.findings: list[Finding] = []
        self.findings_total = 0
        self._previous = GENESIS
        self._accounts: dict[str, _Account] = {}
        self._invoices = InvoiceIndex()
        self._restores = RestoreCheck()
        self._views = views
        self._views_compared_at: int | None = None

    @property
    def chain_head(self) -> bytes:
        return self._previous

    def feed_all(self, rows: Iterable[RawRow]) -> None:
        for row in rows:
            self.feed(row)

    def feed(self, row: RawRow) -> None:
        position, originator_id, version, topic, state, stored = row
        self._check_anchor_passed(position)
        self._position = position
        views = self._views
        if views is not None and self._views_compared_at is None and position > views.position:
            self._compare_views(views)
        if originator_id is None or version is None or topic is None or state is None:
            self._add(MISSING_EVENT, position, None, "a chain link is stored but its event is gone")
            if stored is not None:
                self._previous = stored
            self._check_anchor_at(position)
            return
        self.events_checked += 1
        account = self._accounts.get(originator_id)
        if account is None:
            account = self._accounts[originator_id] = _Account(originator_id)
        if stored is None:
            self._add(
                UNCHAINED_EVENT,
                position,
                account.name,
                "the event has no chain link: it was not written by the ledger, or its link was removed",
            )
        else:
            # Each link is checked against its stored predecessor, so one
            # altered row yields one finding at its own position rather than
            # a cascade over everything after it.
            try:
                expected: bytes | None = link(self._previous, position, originator_id, version, topic, state)
            except (OverflowError, TypeError, AttributeError):
                expected = None  # a field no recorder could have written
            if expected != stored:
                self._add(
                    CHAIN_MISMATCH,
                    position,
                    account.name,
                    "the stored event differs from what was chained at this position "
                    "(changed, moved, or a row before it was removed)",
                )
            self._previous = stored
        self._check_anchor_at(position)
        if version != account.version + 1:
            self._add(
                VERSION_GAP,
                position,
                account.name,
                f"version {version} follows version {account.version} of this account",
            )
        account.version = version
        try:
            data = orjson.loads(state)
            self._replay(position, account, topic, data)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            self._add(UNDECODABLE, position, account.name, f"the stored event cannot be read: {error!r}")

    def _replay(self, position: int, account: _Account, topic: str, data: dict[str, Any]) -> None:
        shape = SHAPES_BY_TOPIC.get(topic)
        if shape is None:
            if topic == OPENED:
                account.name = data["account_id"]
            else:
                self._add(UNKNOWN_TOPIC, position, account.name, f"unknown event type {topic!r}")
            return
        currency = data["currency"]
        line = self._line(account, currency)
        if shape.kind == RESTORE:
            self._replay_restore(position, account, line, currency, data[shape.key], data[shape.amount])
        elif shape.charge is None:
            amount = data[shape.amount]
            if type(amount) is not int or amount <= 0:
                self._add(
                    DECISION_RULE,
                    position,
                    account.name,
                    f"a grant must be a positive whole number of minor units, got {amount!r}",
                    currency,
                )
            line.granted += amount
            line.balance += amount
        else:
            # In the order the event stores them: an event missing several
            # fields is reported by the first.
            charge, amount, due = data[shape.charge], data[shape.amount], data["amount_due_minor"]
            invoice_id = data[shape.key] if shape.kind == INVOICE else None
            # A voided invoice never uses credits: as against a balance of 0.
            voided = invoice_id in account.voided_early
            balance = 0 if voided else line.balance
            self._check_split(position, account, currency, balance, charge, amount, due)
            if invoice_id is not None:
                account.voided_early.discard(invoice_id)
                decided = Decided(position, account.name, currency)
                for duplicate in self._invoices.add(invoice_id, decided):
                    self._add_duplicate(duplicate)
                if type(amount) is int and amount > 0:
                    self._restores.applied(invoice_id, account.name, position, amount)
                line.applied += amount
            else:
                line.used += amount
            line.balance -= amount
        recorded = data["balance_after_minor"]
        if line.balance < 0 or recorded < 0:
            self._add(
                NEGATIVE_BALANCE,
                position,
                account.name,
                f"balance below zero: replayed {line.balance}, recorded {recorded}",
                currency,
            )
        if recorded != line.balance:
            self._add(
                BALANCE_MISMATCH,
                position,
                account.name,
                f"recorded balance after is {recorded}, replay gives {line.balance}",
                currency,
            )
            # Go on from what was recorded, so one bad event is one finding
            # rather than one for every later event of the account.
            line.balance = recorded
        line.recorded = recorded
        line.last_position = position

    def _replay_restore(
        self, position: int, account: _Account, line: _Currency, currency: str, invoice_id: str, amount: Any
    ) -> None:
        if type(amount) is not int or amount < 0:
            self._add(
                DECISION_RULE,
                position,
                account.name,
                f"a restore must be a whole number of minor units, zero or more, got {amount!r}",
                currency,
            )
        else:
            self._restores.restored(Restored(position, account.name, currency, invoice_id, amount))
        if currency == NO_CURRENCY:
            account.voided_early.add(invoice_id)
        line.restored += amount
        line.balance += amount

    def _add_restore_problem(self, problem: RestoreProblem) -> None:
        restore = problem.restore
        if problem.first_position is not None:
            kind = RESTORED_TWICE
            detail = (
                f"invoice {restore.invoice_id!r} was already restored at position {problem.first_position}"
            )
        else:
            kind = RESTORE_ABOVE_APPLIED
            detail = (
                f"invoice {restore.invoice_id!r} restores {restore.amount}, "
                f"but its decision applied {problem.applied}"
            )
        self._add(kind, restore.position, restore.account, detail, restore.currency)

    def _check_split(
        self, position: int, account: _Account, currency: str, balance: int, charge: int, taken: int, due: int
    ) -> None:
        # Rules 2 and 3: credits cover min(balance, charge), the rest is due.
        expected = min(balance, charge)
        if taken != expected or due != charge - taken:
            self._add(
                DECISION_RULE,
                position,
                account.name,
                f"a charge of {charge} against a balance of {balance} takes {expected} of credits and "
                f"leaves {charge - expected} due; recorded {taken} taken and {due} due",
                currency,
            )

    @staticmethod
    def _line(account: _Account, currency: str) -> _Currency:
        line = account.currencies.get(currency)
        if line is None:
            line = account.currencies[currency] = _Currency()
        return line

    def _add_duplicate(self, duplicate: Duplicate) -> None:
        again = duplicate.again
        self._add(
            DUPLICATE_INVOICE,
            again.position,
            again.account,
            f"invoice {duplicate.invoice_id!r} was already decided at position {duplicate.first_position}",
            again.currency,
        )

    def _add(
        self, kind: str, position: int, account: str | None, detail: str, currency: str | None = None
    ) -> None:
        self.findings_total += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(kind, position, account, detail, currency))

    def _compare_views(self, views: ViewsSnapshot) -> None:
        self._views_compared_at = views.position
        replayed = {
            (account.name, currency): line
            for account in self._accounts.values()
            for currency, line in account.currencies.items()
        }
        for row in views.balances:
            line = replayed.pop((row.account_id, row.currency), None)
            if line is None:
                self._add(
                    VIEW_MISMATCH,
                    views.position,
                    row.account_id,
                    "the balance view holds an account and currency the record never had",
                    row.currency,
                )
                continue
            expected = (line.balance, line.granted, line.applied, line.used, line.restored)
            held = (
                row.balance_minor,
                row.granted_minor,
                row.applied_minor,
                row.calling_credits_minor,
                row.restored_minor,
            )
            if held != expected:
                self._add(
                    VIEW_MISMATCH,
                    views.position,
                    row.account_id,
                    f"balance view (balance, granted, applied, calling credits, restored) = {held}, "
                    f"replay gives {expected}",
                    row.currency,
                )
        for (account_name, currency), line in sorted(replayed.items()):
            if not (line.balance or line.granted or line.applied or line.used or line.restored):
                # A currency only ever invoiced, never granted, holds nothing;
                # the balance view has no row for it.
                continue
            self._add(
                VIEW_MISMATCH,
                views.position,
                account_name,
                "the balance view is missing this account and currency",
                currency,
            )

    def _check_anchor_at(self, position: int) -> None:
        anchor = self._anchor
        if anchor is None or position != anchor.position:
            return
        self._anchor_checked = True
        if self._previous != anchor.chain_hash:
            self._add(
                ANCHOR_MISMATCH,
                position,
                None,
                "the chain hash here differs from the head recorded earlier for this position: "
                "the history up to here was rewritten",
            )

    def _check_anchor_passed(self, position: int) -> None:
        anchor = self._anchor
        if anchor is not None and not self._anchor_checked and position > anchor.position:
            self._anchor_checked = True
            self._add(
                ANCHOR_MISMATCH,
                position,
                None,
                f"position {anchor.position}, where a chain head was recorded earlier, is gone",
            )

    def finish(self) -> Report:
        for duplicate in self._invoices.flush():
            self._add_duplicate(duplicate)
        self._invoices.close()
        try:
            for problem in self._restores.problems():
                self._add_restore_problem(problem)
        finally:
            self._restores.close()
        if self._anchor is not None and not self._anchor_checked:
            self._add(
                ANCHOR_MISMATCH,
                self._position,
                None,
                f"the record ends at position {self._position}, before position "
                f"{self._anchor.position} where a chain head was recorded earlier: its tail was removed",
            )
        if self._views is not None and self._views_compared_at is None:
            self._compare_views(self._views)
        for account in self._accounts.values():
            for currency, line in account.currencies.items():
                replayed = line.granted - line.applied + line.restored - line.used
                if replayed != line.recorded:
                    self._add(
                        TOTALS_MISMATCH,
                        line.last_position,
                        account.name,
                        f"granted {line.granted} - applied {line.applied} + restored {line.restored} "
                        f"- used {line.used} = {replayed}, "
                        f"but the last recorded balance is {line.recorded}",
                        currency,
                    )
        self.findings.sort(key=lambda f: f.position)
        return Report(
            events_checked=self.events_checked,
            accounts_checked=len(self._accounts),
            findings=self.findings,
            findings_total=self.findings_total,
            chain_head=self._previous,
            views_compared_at=self._views_compared_at,
            chain_head_position=self._position,
        )
