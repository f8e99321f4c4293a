"""Outbound messages are written without building their pydantic models, and
are byte for byte what the models would write."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any
from uuid import UUID

import pytest
from pydantic import AfterValidator, BaseModel, Field, StrictInt, StrictStr, ValidationError, field_serializer

from application.entries import ledger_entry
from application.ledger import Ledger
from consumers import contracts
from consumers.publications import OWN_FIELDS, Channel, OutboundEncoder, Publisher
from domain.credit_account import CreditAccount
from tests.recorded_events import every_kind_of_entry

MODELS: list[type[BaseModel]] = [
    contracts.InvoiceCreditsApplied,
    contracts.InvoiceCreditsRestored,
    contracts.CreditGranted,
    contracts.CreditApplied,
    contracts.CallingCreditPurchased,
    contracts.CreditRestored,
]
SETTLEMENTS: dict[str, type[BaseModel]] = {
    "invoice": contracts.InvoiceCreditsApplied,
    "restore": contracts.InvoiceCreditsRestored,
}
LEDGER_EVENTS: dict[str, type[BaseModel]] = {
    "grant": contracts.CreditGranted,
    "invoice": contracts.CreditApplied,
    "calling_credit_purchase": contracts.CallingCreditPurchased,
    "restore": contracts.CreditRestored,
}


class Directory:
    def account_ids_of(self, originator_ids: Collection[UUID]) -> dict[UUID, str]:
        return dict.fromkeys(originator_ids, "acct-from-store")


def recorded_events() -> list[object]:
    """Every kind of entry, zero amounts and a void before its invoice included."""
    zoe = every_kind_of_entry("acct-zoe", note='Zoë\'s "refund" \\ 账户 \U0001f600')
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.grant("acct-bob", "grant-002", "EUR", 10**15, "promotion")
    return [*zoe, *ledger.events.get(CreditAccount.id_for("acct-bob"))]


def pydantic_json(model: type[BaseModel], values: dict[str, Any]) -> bytes:
    """How messages were written before: the model validated, then dumped."""
    names = [name for name in model.model_fields if name not in OWN_FIELDS]
    return (
        model.model_validate({**{n: values[n] for n in names}, "account_id": values["account_id"]})
        .model_dump_json()
        .encode()
    )


def test_every_published_message_is_what_its_contract_model_writes_and_validates() -> None:
    # given recorded events of every kind
    events = recorded_events()
    publisher = Publisher(Directory())
    written: set[type[BaseModel]] = set()
    for event in events:
        entry = ledger_entry(event)
        # when each is published
        for publication in publisher.publications(event):
            assert entry is not None
            models = SETTLEMENTS if publication.channel is Channel.SETTLEMENTS else LEDGER_EVENTS
            model = models[entry.kind]
            values = {**entry.public(model.model_fields.keys() - OWN_FIELDS), "account_id": publication.key}
            # then its bytes are the pydantic model's, and valid under the contract
            assert publication.value == pydantic_json(model, values)
            assert (
                model.model_validate_json(publication.value).model_dump_json().encode() == publication.value
            )
            if publication.channel is Channel.LEDGER_EVENTS:
                contracts.LedgerEvent.model_validate_json(publication.value)
            assert publication.event_id == entry.event_id
            written.add(model)
    # and every outbound message type was among them
    assert written == set(MODELS)


def valid_values(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()["properties"]
    values: dict[str, Any] = {}
    for name, field in schema.items():
        if "const" in field:
            continue
        if field["type"] == "integer":
            values[name] = 7
        elif "pattern" in field:
            values[name] = "USD"
        else:
            values[name] = f"{name}-value"
    return values


TEXTS = [
    "",
    "plain",
    "".join(chr(c) for c in range(0x00, 0x80)),  # every control character and ASCII sign
    "\x7f\x80\x9f\u00a0é\u2028\u2029\ufeff\U0001f600\U0010ffff",
    '"quoted" \\ back/slash',
    "\ud800",  # a lone surrogate
]
INTEGERS: list[object] = [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**100, -1, True, False, 1.0, "1", None]
CURRENCIES: list[object] = ["USD", "XXX", "usd", "US", "USDD", "USD\n", " USD", "ÜSD", 1, None]


def outcome(write: Any) -> bytes | type[Exception]:
    try:
        result: bytes = write()
    except Exception as error:
        return type(error)
    return result


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_any_value_is_written_or_refused_as_pydantic_would(model: type[BaseModel]) -> None:
    # given the model's encoder and values on and off its contract, field by field
    encoder = OutboundEncoder(model)
    schema = model.model_json_schema()["properties"]
    for name, field in schema.items():
        if "const" in field:
            continue
        candidates = INTEGERS if field["type"] == "integer" else CURRENCIES if "pattern" in field else TEXTS
        for candidate in [*candidates, *TEXTS, *INTEGERS]:
            values = {**valid_values(model), name: candidate}
            # then the encoder writes the same bytes, or fails the same way
            expected = outcome(lambda v=values: model.model_validate(v).model_dump_json().encode())
            assert outcome(lambda v=values: encoder.encode(v)) == expected, (name, candidate)


def test_off_contract_values_are_refused_not_published() -> None:
    encoder = OutboundEncoder(contracts.CreditApplied)
    for field, value in [("credits_applied_minor", -5), ("currency", "usd"), ("amount_due_minor", True)]:
        with pytest.raises(ValidationError):
            encoder.encode({**valid_values(contracts.CreditApplied), field: value})


class Limited(BaseModel):
    text: Annotated[StrictStr, Field(max_length=3)]


class Positive(BaseModel):
    amount: Annotated[StrictInt, Field(ge=1)]


class Decimal(BaseModel):
    amount: float


class Checked(BaseModel):
    text: Annotated[StrictStr, AfterValidator(str.strip)]


class Written(BaseModel):
    text: StrictStr

    @field_serializer("text")
    def shout(self, text: str) -> str:
        return text.upper()


@pytest.mark.parametrize("model", [Limited, Positive, Decimal, Checked, Written])
def test_a_contract_constraint_not_checked_by_hand_stops_the_encoder_being_built(
    model: type[BaseModel],
) -> None:
    # A contract change the encoder does not know must not publish unchecked.
    with pytest.raises(TypeError, match="checked by hand"):
        OutboundEncoder(model)
