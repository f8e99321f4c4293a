"""From a polled batch of InvoiceGenerated and InvoiceVoided messages to ledger decisions.

Each message ends in exactly one of two ways: settled (its decision is in the
ledger, whether recorded now or earlier) or dead-lettered (it can never
succeed). Anything else, such as the store being down, is raised to the
caller, which must retry the whole batch and never skip it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import ValidationError

from application.ledger import InvoiceRequest, Request, VoidRequest
from application.results import InvoiceSettlement, VoidResult
from consumers.contracts import InvoiceGenerated, InvoiceVoided
from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError

R = TypeVar("R")

# Reason codes in the dlq.reason header: short and stable, for alerting.
NOT_JSON = "not_json"
INVALID = "invalid"
CONFLICT = "conflict"
REJECTED = "rejected"


class InvoiceLedger(Protocol):
    def settle(self, requests: Sequence[Request]) -> list[InvoiceSettlement | VoidResult | LedgerError]: ...


@dataclass(frozen=True)
class Inbound(Generic[R]):
    """One polled message; ``ref`` is whatever the transport needs to find it again.
    ``void`` says it came from the voids topic, so it must be an InvoiceVoided."""

    ref: R
    value: bytes | None
    void: bool = False


@dataclass(frozen=True)
class Settled(Generic[R]):
    ref: R
    settlement: InvoiceSettlement | VoidResult


@dataclass(frozen=True)
class DeadLetter(Generic[R]):
    ref: R
    reason: str
    error: str


Decision = Settled[R] | DeadLetter[R]


class InvoiceBatchHandler:
    """Decides a whole batch in one ledger call: one store transaction."""

    def __init__(self, ledger: InvoiceLedger) -> None:
        self._ledger = ledger

    def handle(self, batch: Sequence[Inbound[R]]) -> list[Decision[R]]:
        decisions: list[Decision[R] | None] = []
        requests: list[Request] = []
        positions: list[int] = []
        for message in batch:
            parsed = parse(message)
            if isinstance(parsed, DeadLetter):
                decisions.append(parsed)
                continue
            positions.append(len(decisions))
            decisions.append(None)
            requests.append(_request(parsed))
        if requests:
            outcomes = self._ledger.settle(requests)
            for position, outcome in zip(positions, outcomes, strict=True):
                decisions[position] = _decision(batch[position].ref, outcome)
        return [d for d in decisions if d is not None]


def _request(parsed: InvoiceGenerated | InvoiceVoided) -> Request:
    if isinstance(parsed, InvoiceVoided):
        return VoidRequest(parsed.account_id, parsed.invoice_id)
    return InvoiceRequest(parsed.account_id, parsed.invoice_id, parsed.currency, parsed.total_minor)


def parse(message: Inbound[R]) -> InvoiceGenerated | InvoiceVoided | DeadLetter[R]:
    if message.value is None:
        return DeadLetter(message.ref, NOT_JSON, "the message has no value")
    model = InvoiceVoided if message.void else InvoiceGenerated
    try:
        return model.model_validate_json(message.value)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            if _json_with_lone_surrogates(message.value):
                return DeadLetter(
                    message.ref, INVALID, "text must be valid Unicode (it holds a lone surrogate)"
                )
            return DeadLetter(message.ref, NOT_JSON, "the value is not a JSON document")
        return DeadLetter(message.ref, INVALID, _describe(error))


def _json_with_lone_surrogates(value: bytes) -> bool:
    """JSON's grammar allows an escaped lone surrogate ("\\ud800"), which the
    strict parser refuses; such a message is JSON, but its text is invalid."""
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "value"
        problems.append(f"{where}: {item['msg']}")
    return _bounded("; ".join(problems))


# The reason travels in a dead letter's header; a hostile message must not
# make it larger than the message itself.
_MAX_ERROR_LENGTH = 1000


def _bounded(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_LENGTH else text[: _MAX_ERROR_LENGTH - 3] + "..."


def _decision(ref: R, outcome: InvoiceSettlement | VoidResult | LedgerError) -> Decision[R]:
    if isinstance(outcome, InvoiceSettlement | VoidResult):
        return Settled(ref, outcome)
    if isinstance(outcome, IdempotencyConflictError):
        return DeadLetter(ref, CONFLICT, _bounded(str(outcome)))
    if isinstance(outcome, InvalidCommandError):
        return DeadLetter(ref, INVALID, _bounded(str(outcome)))
    # Any other rule the ledger enforces is just as permanent for this message.
    return DeadLetter(ref, REJECTED, _bounded(f"{type(outcome).__name__}: {outcome}"))
