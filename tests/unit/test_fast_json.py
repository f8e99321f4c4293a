"""The ledger's transcoder writes eventsourcing's JSONTranscoder's very bytes.

The store's hash chain covers every stored state, and processes of the old
and the new version share one store: any byte written differently would read
as tampering, or fork one event's hash between writers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    TranscodingNotRegisteredError,
)
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from application.fast_json import FastJSONTranscoder
from application.ledger import Ledger
from application.stored_fields import StoredFields
from domain.credit_account import CreditAccount
from tests.recorded_events import every_kind_of_entry

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
WHEN = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    """The transcoder with the transcodings every application registers."""
    Application(env=IN_MEMORY).register_transcodings(transcoder)
    return transcoder


STDLIB = registered(JSONTranscoder())
FAST = registered(FastJSONTranscoder())


def encoded(transcoder: Transcoder, obj: object) -> bytes | type[BaseException]:
    """The bytes written, or the type of the error raised."""
    try:
        return transcoder.encode(obj)
    except Exception as error:
        return type(error)


def assert_same_bytes(obj: object) -> None:
    assert encoded(FAST, obj) == encoded(STDLIB, obj)


# Escaping


def test_every_code_point_but_the_surrogates_is_written_alike_in_keys_and_values() -> None:
    # given every character, one string each and all of them together
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    # then each is written alike, as a key and as a value
    assert_same_bytes({text: text})
    assert_same_bytes({c: c for c in text[:0x3000]})


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x1f",  # C0 controls: \u00XX in lower case
        "\b\f\n\r\t",  # the short escapes
        '"quoted" \\ back/slash',
        "\x7f",  # DEL, left as is
        "\u2028\u2029",  # line and paragraph separators, left as is
        "\x80\x9f",  # C1 controls, left as is
        "naïve café 東京 😀",
        "\ufeff\ufffe\uffff",
        "",
    ],
)
def test_text_orjson_writes_is_written_as_the_standard_library_writes_it(text: str) -> None:
    state = {"note": text, text: "as a key"}
    assert FAST.encode(state) == STDLIB.encode(state)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udbff\udc00"])
def test_a_lone_surrogate_is_refused_with_the_standard_librarys_error(text: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        FAST.encode({"note": text})
    assert_same_bytes({"note": text})


# Numbers, constants, order


@pytest.mark.parametrize(
    "number",
    [0, -1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 2**13_000, -(2**200)],
)
def test_an_integer_of_any_size_is_written_as_the_standard_library_writes_it(number: int) -> None:
    assert FAST.encode({"amount_minor": number}) == STDLIB.encode({"amount_minor": number})


def test_an_integer_past_the_standard_librarys_digit_limit_is_refused_alike() -> None:
    assert encoded(FAST, {"amount_minor": 10**5000}) is ValueError
    assert_same_bytes({"amount_minor": 10**5000})


def test_constants_and_key_order_are_kept() -> None:
    state = {"zeta": True, "alpha": False, "mid": None, "a": 1, "Z": "z"}
    assert (
        FAST.encode(state) == b'{"zeta":true,"alpha":false,"mid":null,"a":1,"Z":"z"}' == STDLIB.encode(state)
    )


class Level(IntEnum):
    HIGH = 2


class Colour(StrEnum):
    RED = "red"


class Text(str):
    pass


class Moment(datetime):
    pass


@pytest.mark.parametrize(
    "state",
    [
        {"level": Level.HIGH},  # json writes an IntEnum as its number
        {"colour": Colour.RED},
        {"note": Text("subclassed")},
        {Text("key"): 1},
        {1: "integer key", None: "null key", 1.5: "float key"},  # json writes them as text
        {True: "true key"},
        {"at": Moment(2026, 1, 2, tzinfo=UTC)},  # not registered: refused
        {"ratio": 1.5, "big": 1e16, "nan": float("nan"), "inf": float("-inf")},
        {"nested": {"at": WHEN, "id": UUID(int=7)}},
        {"listed": [1, "two", WHEN, None]},
        {"id": UUID("0f8fad5b-d9cb-469f-a165-70867728950e")},
        {"amount": Decimal("12.50"), "nan": Decimal("NaN")},
        {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00"},
        {},
    ],
)
def test_what_orjson_is_not_trusted_with_is_written_the_standard_way(state: dict[Any, Any]) -> None:
    assert_same_bytes(state)


@pytest.mark.parametrize("obj", [WHEN, UUID(int=1), Decimal("1.5"), [WHEN], "text", 7, None, (1, 2)])
def test_anything_but_a_mapping_is_written_the_standard_way(obj: object) -> None:
    assert_same_bytes(obj)


# Datetimes


@pytest.mark.parametrize(
    "moment",
    [
        WHEN,
        WHEN.replace(microsecond=0),  # no fraction written
        WHEN.replace(microsecond=1),
        WHEN.replace(tzinfo=None),  # naive: no offset written
        datetime(1, 1, 1),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        WHEN.replace(fold=1),
        WHEN.replace(tzinfo=timezone(timedelta(hours=5, minutes=30))),
        WHEN.replace(tzinfo=timezone(timedelta(hours=-3, seconds=7))),  # seconds in the offset
        WHEN.replace(tzinfo=timezone(timedelta(microseconds=-1))),
        WHEN.replace(tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),  # ambiguous hour
    ],
)
def test_a_datetime_is_written_as_the_registered_transcoding_writes_it(moment: datetime) -> None:
    # given a state with a datetime, as every event's timestamp
    state = {"timestamp": moment, "invoice_id": "inv-2026-001"}
    # when written, then as JSONTranscoder writes it: the transcoding's name and its isoformat()
    written = FAST.encode(state)
    assert written == STDLIB.encode(state)
    assert json.loads(written)["timestamp"] == {"_type_": "datetime_iso", "_data_": moment.isoformat()}


def test_the_callers_state_is_left_as_it_was() -> None:
    state = {"timestamp": WHEN, "note": "kept"}
    FAST.encode(state)
    assert state == {"timestamp": WHEN, "note": "kept"}


class EpochSeconds:
    """Another transcoding registered for datetime, as an application may."""

    type = datetime
    name = "epoch_seconds"

    def encode(self, obj: datetime) -> str:
        return str(obj.timestamp())

    def decode(self, data: str) -> datetime:
        return datetime.fromtimestamp(float(data), UTC)


def test_another_transcoding_registered_for_datetime_is_the_one_used() -> None:
    # given both transcoders with their own datetime transcoding
    stdlib, fast = JSONTranscoder(), FastJSONTranscoder()
    for transcoder in (stdlib, fast):
        transcoder.register(EpochSeconds())  # type: ignore[arg-type]
    state = {"timestamp": WHEN}
    # then both write it the same way, with its name
    assert (
        fast.encode(state)
        == stdlib.encode(state)
        == b'{"timestamp":{"_type_":"epoch_seconds","_data_":"1773480413.589793"}}'
    )


def test_a_datetime_without_a_registered_transcoding_is_refused_alike() -> None:
    # given transcoders without any transcoding registered
    fast, stdlib = FastJSONTranscoder(), JSONTranscoder()
    # then both refuse a state with a datetime, with the same error
    assert encoded(fast, {"timestamp": WHEN}) is TranscodingNotRegisteredError
    assert encoded(stdlib, {"timestamp": WHEN}) is TranscodingNotRegisteredError


def test_a_flat_state_is_written_without_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a fast transcoder whose standard-library encoder fails if called
    fast = registered(FastJSONTranscoder())

    def no_stdlib(obj: object) -> str:
        raise AssertionError("the standard library's encoder was called")

    monkeypatch.setattr(fast.encoder, "encode", no_stdlib)
    state = {"invoice_id": "inv-0001", "credits_applied_minor": 500, "timestamp": WHEN}
    # when it writes the flat state of an invoice decision
    written = fast.encode(state)
    # then it wrote it (with orjson), and the very bytes the standard library writes
    assert written == STDLIB.encode(state)


# Any state


TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates too
KEYS = st.sampled_from(["timestamp", "note", "amount_minor"]) | TEXT


def timezones(*, named: bool) -> st.SearchStrategy[Any]:
    offsets = st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    )
    fixed = st.none() | st.just(UTC) | st.builds(timezone, offsets)
    return fixed | st.timezones() if named else fixed


def states(*, exotic: bool) -> st.SearchStrategy[Any]:
    """States, flat ones of plain values (orjson's) first; ``exotic`` adds
    NaNs and named time zones, which do not compare equal once read back."""
    moments = st.datetimes(timezones=timezones(named=exotic))
    plain = TEXT | st.integers() | st.integers(-(2**65), 2**65) | st.booleans() | st.none() | moments
    scalars = plain | st.uuids() | st.decimals(allow_nan=exotic) | st.floats(allow_nan=exotic)
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=8,
    )
    return st.dictionaries(KEYS, plain, max_size=8) | st.dictionaries(KEYS, nested, max_size=8) | nested


@given(states(exotic=True))
def test_any_state_is_written_as_json_transcoder_writes_it_or_refused_alike(state: Any) -> None:
    assert_same_bytes(state)


@given(states(exotic=False))
def test_any_state_written_reads_back_as_it_was(state: Any) -> None:
    written = encoded(FAST, state)
    if isinstance(written, bytes):
        assert FAST.decode(written) == STDLIB.decode(written) == state


# The ledger's events


def test_every_recorded_event_of_an_account_is_stored_as_before() -> None:
    # given every kind of event an account records, and a snapshot of one
    events = every_kind_of_entry("acct-zoe", note='naïve café \u2028\u2029 😀 "quoted" \\ /')
    account = CreditAccount.open("acct-zoe")
    account.grant("grant-001", "EUR", 2500, "refund", "late delivery")
    account.apply_to_invoice("inv-2026-001", "EUR", 4000)
    snapshot = CreditAccount.Snapshot.take(account)
    ledger = Ledger(env=IN_MEMORY)
    # when the ledger stores them, then the bytes are the plain transcoder's
    before: Mapper[Any] = Mapper(transcoder=STDLIB)
    for event in [*events, snapshot]:
        assert ledger.mapper.to_stored_event(event) == before.to_stored_event(event), type(event).__name__  # type: ignore[arg-type]
    # and every event class of the account was among them, but the Event and
    # Created that eventsourcing defines on every aggregate, never recorded
    classes = {
        cls
        for name, cls in vars(CreditAccount).items()
        if isinstance(cls, type) and issubclass(cls, DomainEvent) and name not in ("Event", "Created")
    }
    assert classes == {type(event) for event in [*events, snapshot]}


def test_the_ledger_stores_with_the_fast_transcoder_and_its_transcodings() -> None:
    transcoder = Ledger(env=IN_MEMORY).mapper.transcoder
    assert type(transcoder) is FastJSONTranscoder
    assert set(transcoder.names) == set(STDLIB.names)


class OtherTranscoder(JSONTranscoder):
    pass


@pytest.mark.parametrize("chosen", [OtherTranscoder, JSONTranscoder])
def test_a_transcoder_chosen_by_topic_is_left_as_chosen(chosen: type[JSONTranscoder]) -> None:
    ledger = Ledger(env={**IN_MEMORY, "TRANSCODER_TOPIC": get_topic(chosen)})
    assert type(ledger.mapper.transcoder) is chosen
    assert set(ledger.mapper.transcoder.names) == set(STDLIB.names)


# Reading back


def a_stored_grant(mapper: Mapper[Any]) -> tuple[StoredEvent, type]:
    event = every_kind_of_entry("acct-zoe")[2]
    return mapper.to_stored_event(event), type(event)  # type: ignore[arg-type]


def refuse(_: StoredEvent) -> object:
    raise AssertionError("read by the mapper")


def test_the_relay_and_the_projector_read_the_ledgers_events_with_orjson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an event the ledger stored
    mapper = Ledger(env=IN_MEMORY).mapper
    stored, cls = a_stored_grant(mapper)
    expected = vars(mapper.to_domain_event(stored))
    # when its fields are read without the mapper, then they are the event's
    monkeypatch.setattr(mapper, "to_domain_event", refuse)
    assert StoredFields(mapper).of(stored, cls) == expected


def test_a_subclass_of_the_fast_transcoder_is_left_to_the_mapper(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a transcoder that may write another format
    class Other(FastJSONTranscoder):
        pass

    mapper: Mapper[Any] = Mapper(transcoder=registered(Other()))
    stored, cls = a_stored_grant(mapper)
    # then the mapper reads its events
    monkeypatch.setattr(mapper, "to_domain_event", refuse)
    with pytest.raises(AssertionError, match="read by the mapper"):
        StoredFields(mapper).of(stored, cls)
