"""Contract v1.1 of the messages this service reads and writes on Kafka
(v1.1 added voids: InvoiceVoided in, InvoiceCreditsRestored and CreditRestored out).

The checked-in JSON Schemas under ``contracts/`` are generated from these
models (``promocredits contracts``); a test keeps the two in step.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    StrictStr,
)

from domain.rules import text_problem


def _acceptable_text(value: str) -> str:
    # The same definition of acceptable text as every other edge applies.
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


MinorUnits = Annotated[StrictInt, Field(ge=0, description="Amount in the currency's minor units.")]
Currency = Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD.")]
Key = Annotated[StrictStr, Field(min_length=1, max_length=256), AfterValidator(_acceptable_text)]
Timestamp = Annotated[StrictStr, Field(description="RFC 3339 timestamp in UTC.")]


class InvoiceGenerated(BaseModel):
    """Inbound on ``billing.invoices.generated``, key = account_id."""

    # Producers may add fields later without breaking us; a required field
    # missing or of the wrong type makes the message invalid.
    model_config = ConfigDict(extra="ignore", title="InvoiceGenerated")

    event_type: Literal["InvoiceGenerated"]
    event_id: Key
    invoice_id: Key
    account_id: Key
    currency: Currency
    total_minor: MinorUnits
    issued_at: AwareDatetime


class InvoiceVoided(BaseModel):
    """Inbound on ``billing.invoices.voided``, key = account_id."""

    model_config = ConfigDict(extra="ignore", title="InvoiceVoided")

    event_type: Literal["InvoiceVoided"]
    event_id: Key
    invoice_id: Key
    account_id: Key
    voided_at: AwareDatetime


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: StrictStr = Field(description="Stable: a republished event keeps its id.")
    account_id: StrictStr
    currency: Currency


class InvoiceCreditsApplied(_Outbound):
    """Outbound on ``promotional-credits.invoice-settlements``, key = account_id.

    Exactly one decision per invoice, zero-credit decisions included."""

    model_config = ConfigDict(title="InvoiceCreditsApplied")

    event_type: Literal["InvoiceCreditsApplied"] = "InvoiceCreditsApplied"
    invoice_id: StrictStr
    invoice_total_minor: MinorUnits
    credits_applied_minor: MinorUnits
    amount_due_minor: MinorUnits
    balance_minor: MinorUnits = Field(
        description="The account's balance in this currency after the decision."
    )
    decided_at: Timestamp


class InvoiceCreditsRestored(_Outbound):
    """Outbound on ``promotional-credits.invoice-settlements``, key = account_id.

    Exactly one per voided invoice: the credits its decision had applied,
    given back (0 included). A void that came before its invoice restores 0
    in ``XXX``, ISO 4217's code for no currency."""

    model_config = ConfigDict(title="InvoiceCreditsRestored")

    event_type: Literal["InvoiceCreditsRestored"] = "InvoiceCreditsRestored"
    invoice_id: StrictStr
    credits_restored_minor: MinorUnits
    balance_minor: MinorUnits = Field(description="The account's balance in this currency after the restore.")
    decided_at: Timestamp


class _LedgerEvent(_Outbound):
    balance_minor: MinorUnits = Field(description="The account's balance in this currency after the event.")
    occurred_at: Timestamp
    account_version: StrictInt = Field(description="Position of the event in the account's own history.")


class CreditGranted(_LedgerEvent):
    model_config = ConfigDict(title="CreditGranted")

    event_type: Literal["CreditGranted"] = "CreditGranted"
    grant_id: StrictStr
    amount_minor: MinorUnits
    reason: StrictStr
    note: StrictStr


class CreditApplied(_LedgerEvent):
    model_config = ConfigDict(title="CreditApplied")

    event_type: Literal["CreditApplied"] = "CreditApplied"
    invoice_id: StrictStr
    invoice_total_minor: MinorUnits
    credits_applied_minor: MinorUnits
    amount_due_minor: MinorUnits


class CallingCreditPurchased(_LedgerEvent):
    model_config = ConfigDict(title="CallingCreditPurchased")

    event_type: Literal["CallingCreditPurchased"] = "CallingCreditPurchased"
    purchase_id: StrictStr
    price_minor: MinorUnits
    credits_used_minor: MinorUnits
    amount_due_minor: MinorUnits


class CreditRestored(_LedgerEvent):
    model_config = ConfigDict(title="CreditRestored")

    event_type: Literal["CreditRestored"] = "CreditRestored"
    invoice_id: StrictStr
    credits_restored_minor: MinorUnits


class LedgerEvent(
    RootModel[
        Annotated[
            CreditGranted | CreditApplied | CallingCreditPurchased | CreditRestored,
            Field(discriminator="event_type"),
        ]
    ]
):
    """Outbound on ``promotional-credits.ledger-events``, key = account_id: every
    ledger event; ``event_type`` says which."""

    model_config = ConfigDict(title="LedgerEvent")


# Every published schema, by file name under contracts/.
SCHEMAS: dict[str, type[BaseModel]] = {
    "invoice-generated.v1.schema.json": InvoiceGenerated,
    "invoice-credits-applied.v1.schema.json": InvoiceCreditsApplied,
    "invoice-voided.v1.schema.json": InvoiceVoided,
    "invoice-credits-restored.v1.schema.json": InvoiceCreditsRestored,
    "ledger-event.v1.schema.json": LedgerEvent,
}


def schema_documents() -> dict[str, str]:
    """The JSON Schema files as they must be checked in, by file name."""
    documents = {}
    for name, model in SCHEMAS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
        documents[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents
