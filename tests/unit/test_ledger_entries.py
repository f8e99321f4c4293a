"""The ledger entry: one per event, and every outside contract checked against it."""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import orjson
import pytest
from pydantic import BaseModel

from application.audit.rows import APPLIED, GRANTED, PURCHASED, RESTORED
from application.entries import PUBLIC_NAMES, SHAPES_BY_TOPIC, LedgerEntry, ledger_entry
from application.results import GrantResult, InvoiceSettlement, PurchaseResult, VoidResult
from consumers import contracts
from consumers.publications import OWN_FIELDS, Publisher
from domain.credit_account import CreditAccount
from domain.rules import GRANT_REASONS
from infra.entrypoints.api.models import GrantRequest, GrantResponse, PurchaseResponse, VoidResponse
from infra.entrypoints.cli.ledger_commands import Reason

# Deliberately separate models of the entry: Kafka messages, HTTP answers and
# the ledger's own results.
CONTRACTS: list[type[Any]] = [
    contracts.InvoiceCreditsApplied,
    contracts.CreditGranted,
    contracts.CreditApplied,
    contracts.CallingCreditPurchased,
    contracts.InvoiceCreditsRestored,
    contracts.CreditRestored,
    GrantResponse,
    PurchaseResponse,
    GrantResult,
    InvoiceSettlement,
    PurchaseResult,
    VoidResult,
    VoidResponse,
]


def alice_events() -> list[object]:
    account = CreditAccount.open("acct-alice")
    account.grant("grant-001", "USD", 2500, "refund", "late delivery")
    account.apply_to_invoice("inv-2026-001", "USD", 4000)
    account.buy_calling_credits("purchase-001", "USD", 300)
    return list(account.collect_events())


def _plain(hint: Any) -> type:
    """The type a value of ``hint`` has once shown outside: int or str."""
    if get_origin(hint) in (Union, types.UnionType):
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
    if get_origin(hint) is Literal:
        return type(get_args(hint)[0])
    # Times are shown as RFC 3339 text.
    return str if hint is datetime else hint


def _contract_fields(contract: type[Any]) -> dict[str, type]:
    if isinstance(contract, type) and issubclass(contract, BaseModel):
        hints = {name: field.annotation for name, field in contract.model_fields.items()}
    else:
        assert is_dataclass(contract)
        every = get_type_hints(contract)
        hints = {f.name: every[f.name] for f in fields(contract) if f.init and f.name != "is_new"}
    return {name: _plain(hint) for name, hint in hints.items() if name not in OWN_FIELDS}


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_contract_field_is_an_entry_field_of_the_same_type(contract: type[Any]) -> None:
    # given the entry's public names and the types of the fields they show
    entry_types = get_type_hints(LedgerEntry)
    # when a contract's fields are read
    for name, wanted in _contract_fields(contract).items():
        # then each one shows an entry field, and a value of the same type
        assert name in PUBLIC_NAMES, f"{contract.__name__}.{name} is no field of the ledger entry"
        assert _plain(entry_types[PUBLIC_NAMES[name]]) is wanted, (
            f"{contract.__name__}.{name} is {wanted.__name__}, "
            f"the entry's {PUBLIC_NAMES[name]} is {entry_types[PUBLIC_NAMES[name]]}"
        )


def test_published_messages_carry_the_entrys_values() -> None:
    # given recorded events and the publisher that turns them into messages
    events = alice_events()
    publisher = Publisher(directory=None)  # type: ignore[arg-type]
    publisher.publications(events[0])
    for event in events[1:]:
        entry = ledger_entry(event)
        assert entry is not None
        # when the event is published
        for publication in publisher.publications(event):
            message = orjson.loads(publication.value)
            # then every field but the message's own is the entry's value
            shown = {name: value for name, value in message.items() if name not in OWN_FIELDS}
            assert shown == entry.public(shown)
            assert message["account_id"] == "acct-alice"


def test_each_entry_kind_is_read_from_the_stored_topic_of_its_event() -> None:
    assert set(SHAPES_BY_TOPIC) == {GRANTED, APPLIED, PURCHASED, RESTORED}


def test_an_entry_says_which_way_the_balance_moved_and_by_how_much() -> None:
    # given a grant, an invoice and a purchase
    grant, invoice, purchase = (ledger_entry(event) for event in alice_events()[1:])
    assert grant is not None and invoice is not None and purchase is not None
    # then each names its kind, key and signed change, and only the amounts it has
    assert (grant.kind, grant.key, grant.change_minor, grant.reason) == ("grant", "grant-001", 2500, "refund")
    assert grant.invoice_total_minor is None and grant.price_minor is None
    assert (invoice.kind, invoice.key, invoice.change_minor, invoice.amount_due_minor) == (
        "invoice",
        "inv-2026-001",
        -2500,
        1500,
    )
    assert (purchase.kind, purchase.key, purchase.change_minor, purchase.price_minor) == (
        "calling_credit_purchase",
        "purchase-001",
        0,
        300,
    )
    assert [e.account_version for e in (grant, invoice, purchase)] == [2, 3, 4]


def test_bookkeeping_events_are_no_ledger_entry() -> None:
    assert ledger_entry(alice_events()[0]) is None


def test_grant_reasons_reach_every_edge_from_the_domain() -> None:
    # then the command line and the HTTP model accept exactly the domain's reasons
    assert tuple(reason.value for reason in Reason) == GRANT_REASONS
    assert tuple(GrantRequest.model_json_schema()["properties"]["reason"]["enum"]) == GRANT_REASONS
