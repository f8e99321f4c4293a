"""The ledger application service: every write and read of credits goes here."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast, runtime_checkable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    IntegrityError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.utils import Environment, get_topic

from application.entries import LedgerEntry, ledger_entry, rfc3339
from application.fast_json import FastJSONTranscoder
from application.money import check_known_currency
from application.results import (
    AccountBalance,
    CurrencyBalance,
    GrantResult,
    InvoiceLookup,
    InvoiceSettlement,
    PurchaseResult,
    VoidResult,
    result_of,
)
from application.startup import creating_tables
from domain.credit_account import (
    RECALLABLE,
    CreditAccount,
    business_key,
    grant_key,
    invoice_key,
    purchase_key,
    void_key,
)
from domain.errors import IdempotencyConflictError, LedgerError
from domain.rules import check_key

T = TypeVar("T")

log = logging.getLogger("promocredits.ledger")

# A conflict means another writer changed the account between our read and our
# write; reloading and deciding again converges quickly, so a handful of
# attempts with a short backoff is plenty even for hot accounts.
MAX_ATTEMPTS = 20
# A database that stays unavailable is reported after a few tries; callers such
# as the Kafka consumer keep retrying with their own backoff.
MAX_UNAVAILABLE_ATTEMPTS = 3


@runtime_checkable
class InvoiceClaims(Protocol):
    """A store-wide index of which account decided each invoice id.

    The recorder writes a claim for every new decision in the same transaction
    (passed as ``invoice_claims``), and a second claim of the same id fails the
    transaction, so one invoice id can never be decided for two accounts.
    """

    def invoice_owners(self, invoice_ids: Sequence[str]) -> dict[str, str]: ...


@runtime_checkable
class RecordedKeys(Protocol):
    """The store's index of every recorded decision by business key.

    The recorder writes a key for every new decision in the same transaction
    (passed as ``business_keys``), and a key recorded twice in one account
    fails the transaction. Accounts therefore need not hold every event they
    ever recorded: a command the account does not recognise is caught here,
    and decided again once the recorded event is recalled.
    """

    def recorded_by_key(self, wanted: Sequence[tuple[UUID, str]]) -> list[StoredEvent]: ...


# A snapshot every this many events keeps a cold load to at most one
# snapshot and this many events, however long the account's history.
SNAPSHOT_INTERVAL = 100


@runtime_checkable
class EventStreams(Protocol):
    """Reads the recorded events of many aggregates in one round trip, so a
    batch of cold accounts costs one query rather than one per account."""

    def events_of(
        self, originator_ids: Sequence[UUID], *, first_only: bool = False
    ) -> dict[UUID, list[StoredEvent]]:
        """Each stream from its latest snapshot on, in version order: the
        snapshot, then the events after it (only version 1 with
        ``first_only``); streams with no events are absent."""


@dataclass(frozen=True)
class InvoiceRequest:
    account_id: str
    invoice_id: str
    currency: str
    total_minor: int


@dataclass(frozen=True)
class VoidRequest:
    account_id: str
    invoice_id: str


Request = InvoiceRequest | VoidRequest
# What each request of a batch comes to: its result, or the rule it broke.
BatchOutcome = InvoiceSettlement | VoidResult | LedgerError


class Ledger(Application[UUID]):
    """Promotional credits for every account, one event stream per account."""

    name = "Ledger"
    snapshotting_intervals = {CreditAccount: SNAPSHOT_INTERVAL}
    # The bytes eventsourcing's JSON transcoder writes, written faster; the
    # composition root's TRANSCODER_TOPIC, if any, still wins.
    env = {"TRANSCODER_TOPIC": get_topic(FastJSONTranscoder)}

    def __init__(self, env: dict[str, str] | None = None, *, cache_size: int = 10_000) -> None:
        super().__init__(env)
        self._cache_size = cache_size
        # Aggregates this process wrote last. They may be stale when another
        # process writes the same account; optimistic concurrency then rejects
        # the save and we reload, so a stale copy can never decide anything.
        self._hot: OrderedDict[str, CreditAccount] = OrderedDict()
        # Accounts may forget their recorded events only where the store keeps
        # business keys; elsewhere (the in-memory store of quick tests) they
        # keep them all and are never loaded from a snapshot.
        self._keys_are_recorded = isinstance(self.recorder, RecordedKeys)
        if not self._keys_are_recorded:
            self.snapshots = self.repository.snapshot_store = None
        # Guards the cache's bookkeeping only, never a write: threads (the
        # API's) write concurrently and optimistic concurrency orders them.
        self._hot_lock = threading.Lock()

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        # Only what the composition root passes in: eventsourcing would also
        # read the whole process environment, where a stray variable (a
        # cipher, database functions that skip the chain) could change how
        # events are stored behind the settings' back.
        snapshotting = {"IS_SNAPSHOTTING_ENABLED": "y"} if type(self).snapshotting_intervals else {}
        return Environment(name, {**type(self).env, **snapshotting, **(env or {})})

    def construct_recorder(self) -> ApplicationRecorder:
        return creating_tables(super().construct_recorder)

    def construct_snapshot_store(self) -> EventStore[UUID]:
        return creating_tables(super().construct_snapshot_store)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        # Taken after the events are committed, from the accounts in hand:
        # each holds exactly what it just recorded, so reading it back from
        # the store (as eventsourcing does, one account at a time) would only
        # repeat work. All of a batch's snapshots go in one write.
        interval = self.snapshotting_intervals.get(CreditAccount)
        if self.snapshots is None or interval is None:
            return
        due = {e.originator_id for e in processing_event.events if e.originator_version % interval == 0}
        snapshots = [
            CreditAccount.Snapshot.take(account)
            for originator_id, account in processing_event.aggregates.items()
            if originator_id in due
        ]
        # A snapshot only saves reading time, so failing to take one (the
        # database gone a moment later) must not make a recorded decision
        # look unrecorded to the caller, who would then decide it again.
        try:
            if snapshots:
                self.snapshots.put(snapshots)
        except (IntegrityError, OperationalError) as error:
            log.warning("no snapshot taken this time: %s", error)

    def _save_accounts(self, accounts: Sequence[CreditAccount], **kwargs: Any) -> None:
        # Application.save, minus its protocol checks of every object saved:
        # on Python 3.11 those cost as much as deciding a batch's invoices.
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for account in accounts:
            processing_event.events.extend(account.collect_events())
            processing_event.aggregates[account.id] = account
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)

    # Commands

    def grant(
        self, account_id: str, grant_id: str, currency: str, amount_minor: int, reason: str, note: str = ""
    ) -> GrantResult:
        check_known_currency(currency)

        def decide(account: CreditAccount) -> GrantResult:
            outcome = account.grant(grant_id, currency, amount_minor, reason, note)
            return result_of(GrantResult, account_id, outcome.event, outcome.is_new)

        return self._write_one(account_id, decide, grant_key(grant_id))

    def apply_invoice(
        self, account_id: str, invoice_id: str, currency: str, total_minor: int
    ) -> InvoiceSettlement:
        outcome = self.apply_invoices([InvoiceRequest(account_id, invoice_id, currency, total_minor)])[0]
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome

    def apply_invoices(self, requests: Sequence[InvoiceRequest]) -> list[InvoiceSettlement | LedgerError]:
        """Decide a batch of invoices and record every decision in one transaction.

        A request that breaks a rule yields its error in place of a settlement
        and the rest of the batch still goes through.
        """
        return [outcome for outcome in self.settle(requests) if not isinstance(outcome, VoidResult)]

    def void_invoice(self, account_id: str, invoice_id: str) -> VoidResult:
        outcome = self.settle([VoidRequest(account_id, invoice_id)])[0]
        if isinstance(outcome, LedgerError):
            raise outcome
        assert isinstance(outcome, VoidResult)
        return outcome

    def settle(self, requests: Sequence[Request]) -> list[BatchOutcome]:
        """Decide a batch of invoices and voids, in order, in one transaction.

        A request that breaks a rule yields its error in place of its result
        and the rest of the batch still goes through. An invoice id belongs to
        the account that first decided or voided it, store-wide: the same id
        under another account is a conflict.
        """

        def decide_all(accounts: _Accounts) -> list[BatchOutcome]:
            outcomes: list[BatchOutcome] = []
            owners = accounts.invoice_owners([r.invoice_id for r in requests])
            accounts.prefetch([r.account_id for r in requests])
            accounts.recall(
                (r.account_id, key)
                for r in requests
                for key in (invoice_key(r.invoice_id), void_key(r.invoice_id))
            )
            for request in requests:
                try:
                    if isinstance(request, InvoiceRequest):
                        check_known_currency(request.currency)
                    owner = owners.get(request.invoice_id, request.account_id)
                    if owner != request.account_id:
                        raise IdempotencyConflictError(
                            f"invoice_id {request.invoice_id!r} was already decided or voided "
                            f"for another account ({owner!r})"
                        )
                    outcome = _decide(accounts, request)
                except LedgerError as error:
                    outcomes.append(error)
                    continue
                owners[request.invoice_id] = request.account_id
                outcomes.append(outcome)
            return outcomes

        return self._write(decide_all)

    def buy_calling_credits(
        self, account_id: str, purchase_id: str, currency: str, price_minor: int
    ) -> PurchaseResult:
        check_known_currency(currency)

        def decide(account: CreditAccount) -> PurchaseResult:
            outcome = account.buy_calling_credits(purchase_id, currency, price_minor)
            return result_of(PurchaseResult, account_id, outcome.event, outcome.is_new)

        return self._write_one(account_id, decide, purchase_key(purchase_id))

    # Queries: always from the store, never from the write cache, so a reader
    # sees what other processes recorded.

    def balance(self, account_id: str) -> AccountBalance:
        account = self._load(account_id)
        if account is None:
            return AccountBalance(account_id=account_id, visible=False, balances=[])
        return AccountBalance(
            account_id=account_id,
            visible=account.visible,
            balances=[CurrencyBalance(c, b) for c, b in account.balances.items()],
        )

    def entries(self, account_id: str) -> list[LedgerEntry]:
        """Every ledger entry of the account, oldest first, from its recorded events."""
        check_key("account_id", account_id)
        events = self.events.get(CreditAccount.id_for(account_id))
        return [entry for entry in map(ledger_entry, events) if entry is not None]

    def history(self, account_id: str) -> list[dict[str, Any]]:
        """Every ledger entry of the account as a usage-history line, oldest first."""
        return [entry.history_json() for entry in self.entries(account_id)]

    def account(self, account_id: str) -> CreditAccount | None:
        return self._load(account_id)

    def invoice(self, invoice_id: str) -> InvoiceLookup | None:
        """The recorded decision of an invoice and its void, or None while no
        decision is recorded (unknown, or voided before it was generated)."""
        check_key("invoice_id", invoice_id)
        recorder = self.recorder
        if not isinstance(recorder, InvoiceClaims):
            return None
        owner = recorder.invoice_owners([invoice_id]).get(invoice_id)
        account = self._load(owner) if owner is not None else None
        if account is not None:
            account.recall(
                self._recorded([(account.id, invoice_key(invoice_id)), (account.id, void_key(invoice_id))])
            )
        decision = account.decision_for(invoice_id) if account is not None else None
        if account is None or decision is None:
            return None
        void = account.void_for(invoice_id)
        return InvoiceLookup(
            invoice_id=invoice_id,
            account_id=account.account_id,
            currency=decision.currency,
            invoice_total_minor=decision.invoice_total_minor,
            credits_applied_minor=decision.credits_applied_minor,
            amount_due_minor=decision.amount_due_minor,
            balance_after_minor=decision.balance_after_minor,
            decided_at=rfc3339(decision.timestamp),
            voided=void is not None,
            credits_restored_minor=void.credits_restored_minor if void is not None else None,
        )

    def forget_cached_accounts(self) -> None:
        """Drop every hot aggregate, e.g. when a consumer's partitions move:
        another process now writes those accounts."""
        with self._hot_lock:
            self._hot.clear()

    # Unit of work

    def _write_one(self, account_id: str, decide: Callable[[CreditAccount], T], key: str) -> T:
        def decide_one(accounts: _Accounts) -> T:
            accounts.recall([(account_id, key)])
            return decide(accounts.get(account_id))

        return self._write(decide_one)

    def _write(self, decide: Callable[[_Accounts], T]) -> T:
        unavailable = 0
        for attempt in range(MAX_ATTEMPTS):
            # The first attempt trusts that business keys and invoice ids are
            # new to the store (the common case, and no extra read); once a
            # write has failed, the claims are read so that a foreign claim
            # becomes a conflict, and recorded decisions are recalled so that
            # a repeated command answers from them.
            accounts = _Accounts(self, check_claims=attempt > 0)
            try:
                result = decide(accounts)
                touched = accounts.touched()
                self._save_accounts(
                    touched,
                    invoice_claims=_new_invoice_claims(touched),
                    business_keys=_new_business_keys(touched),
                )
            except (IntegrityError, OperationalError) as error:
                # IntegrityError: another writer took the version, the invoice
                # id or the business key we wanted. OperationalError: the database was
                # unavailable or SQLite's writer lock timed out. Nothing was
                # recorded, so decide again on fresh state.
                self._forget(accounts.touched_ids())
                unavailable += isinstance(error, OperationalError)
                if attempt == MAX_ATTEMPTS - 1 or unavailable == MAX_UNAVAILABLE_ATTEMPTS:
                    raise
                time.sleep(min(0.002 * 2**attempt, 0.25))
                continue
            except BaseException:
                self._forget(accounts.touched_ids())
                raise
            if self._keys_are_recorded:
                for account in accounts.touched():
                    account.forget_recorded_events()
            self._remember(accounts.touched())
            return result
        raise AssertionError("unreachable: the last attempt re-raises")

    def _recorded(self, wanted: Sequence[tuple[UUID, str]]) -> list[Any]:
        """The recorded decisions of these (account uuid, business key) pairs,
        in one query; none where the store keeps no keys."""
        recorder = self.recorder
        if not wanted or not isinstance(recorder, RecordedKeys):
            return []
        return [self.mapper.to_domain_event(stored) for stored in recorder.recorded_by_key(wanted)]

    def _load(self, account_id: str) -> CreditAccount | None:
        check_key("account_id", account_id)
        try:
            account: CreditAccount = self.repository.get(CreditAccount.id_for(account_id))
        except AggregateNotFoundError:
            return None
        return account

    def _load_many(self, account_ids: Sequence[str]) -> dict[str, CreditAccount]:
        """The recorded accounts among ``account_ids``, read in one query when
        the recorder can; accounts never recorded are absent."""
        recorder = self.recorder
        if not isinstance(recorder, EventStreams):
            loaded = {account_id: self._load(account_id) for account_id in account_ids}
            return {account_id: a for account_id, a in loaded.items() if a is not None}
        by_uuid = {CreditAccount.id_for(account_id): account_id for account_id in account_ids}
        accounts: dict[str, CreditAccount] = {}
        for originator_id, stored in recorder.events_of(list(by_uuid)).items():
            # What Repository.get does, minus its per-event protocol check:
            # a snapshot's mutate starts the account, each event moves it on.
            account: Any = None
            for event in map(self.mapper.to_domain_event, stored):
                account = cast("CreditAccount.Event", event).mutate(account)
            if isinstance(account, CreditAccount):
                accounts[by_uuid[originator_id]] = account
        return accounts

    def _cached_or_loaded(self, account_id: str) -> CreditAccount:
        # Taken out of the cache while a unit of work changes it: a concurrent
        # writer of the same account then loads its own copy instead of
        # sharing one with unsaved events, and the slower of the two gets a
        # conflict and decides again.
        with self._hot_lock:
            account = self._hot.pop(account_id, None)
        if account is not None:
            return account
        return self._load(account_id) or CreditAccount.open(account_id)

    def _take_cached(self, account_ids: Iterable[str]) -> tuple[dict[str, CreditAccount], list[str]]:
        """The cached accounts among ``account_ids`` (taken out, as by
        _cached_or_loaded), and the ids that are not cached."""
        taken: dict[str, CreditAccount] = {}
        cold: list[str] = []
        with self._hot_lock:
            for account_id in account_ids:
                account = self._hot.pop(account_id, None)
                if account is None:
                    cold.append(account_id)
                else:
                    taken[account_id] = account
        return taken, cold

    def _remember(self, accounts: Iterable[CreditAccount]) -> None:
        with self._hot_lock:
            for account in accounts:
                self._hot[account.account_id] = account
                self._hot.move_to_end(account.account_id)
            while len(self._hot) > self._cache_size:
                self._hot.popitem(last=False)

    def _forget(self, account_ids: Iterable[str]) -> None:
        with self._hot_lock:
            for account_id in account_ids:
                self._hot.pop(account_id, None)


class _Accounts:
    """The accounts one unit of work reads and changes."""

    def __init__(self, ledger: Ledger, *, check_claims: bool) -> None:
        self._ledger = ledger
        self._check_claims = check_claims
        self._seen: dict[str, CreditAccount] = {}

    def invoice_owners(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        recorder = self._ledger.recorder
        if self._check_claims and isinstance(recorder, InvoiceClaims):
            return recorder.invoice_owners(invoice_ids)
        return {}

    def recall(self, wanted: Iterable[tuple[str, str]]) -> None:
        """On a checking attempt, have each account know its recorded
        decisions of these (account id, business key) pairs: one query for
        all of them. Ids that break a rule are left to ``get`` to refuse."""
        if not self._check_claims:
            return
        accounts: dict[UUID, CreditAccount] = {}
        pairs: list[tuple[UUID, str]] = []
        for account_id, key in wanted:
            try:
                account = self.get(account_id)
            except LedgerError:
                continue
            accounts[account.id] = account
            pairs.append((account.id, key))
        for event in self._ledger._recorded(pairs):
            accounts[event.originator_id].recall([event])

    def prefetch(self, account_ids: Iterable[str]) -> None:
        """Take every account of the batch from the cache, and read all the
        cold ones in one query. An id that breaks a rule is left to ``get``,
        which raises for its request alone."""
        wanted: list[str] = []
        for account_id in dict.fromkeys(account_ids):
            if account_id in self._seen:
                continue
            try:
                check_key("account_id", account_id)
            except LedgerError:
                continue
            wanted.append(account_id)
        taken, cold = self._ledger._take_cached(wanted)
        self._seen.update(taken)
        loaded = self._ledger._load_many(cold) if cold else {}
        for account_id in cold:
            self._seen[account_id] = loaded.get(account_id) or CreditAccount.open(account_id)

    def get(self, account_id: str) -> CreditAccount:
        account = self._seen.get(account_id)
        if account is None:
            account = self._ledger._cached_or_loaded(account_id)
            self._seen[account_id] = account
        return account

    def touched(self) -> list[CreditAccount]:
        # A new account is recorded only together with its first decision: a
        # request rejected by a rule must leave no trace.
        return [a for a in self._seen.values() if not _only_opened(a)]

    def touched_ids(self) -> list[str]:
        return list(self._seen)


def _decide(accounts: _Accounts, request: Request) -> InvoiceSettlement | VoidResult:
    account = accounts.get(request.account_id)
    if isinstance(request, VoidRequest):
        void = account.void_invoice(request.invoice_id)
        return result_of(VoidResult, request.account_id, void.event, void.is_new)
    outcome = account.apply_to_invoice(request.invoice_id, request.currency, request.total_minor)
    return result_of(InvoiceSettlement, request.account_id, outcome.event, outcome.is_new)


def _new_invoice_claims(accounts: Iterable[CreditAccount]) -> list[tuple[str, str]]:
    # The account's first event about an invoice claims its id: a decision,
    # or a void that came before it (the decision then claims nothing).
    return [
        (event.invoice_id, account.account_id)
        for account in accounts
        for event in account.pending_events
        if isinstance(event, CreditAccount.CreditApplied | CreditAccount.CreditRestored)
        and account.first_for(event.invoice_id) is event
    ]


def _new_business_keys(accounts: Iterable[CreditAccount]) -> list[tuple[UUID, str, int]]:
    return [
        (account.id, business_key(event), event.originator_version)
        for account in accounts
        for event in account.pending_events
        if isinstance(event, RECALLABLE)
    ]


def _only_opened(account: CreditAccount) -> bool:
    pending = account.pending_events
    return len(pending) == 1 and isinstance(pending[0], CreditAccount.Opened)
