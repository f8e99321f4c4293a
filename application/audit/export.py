"""JSONL exports of the raw record, checkable offline without the database.

One line per stored row, in notification order::

    {"n":1,"originator_id":"…","originator_version":1,"topic":"…","state":"<stored JSON>","hash":"<hex>"}

``state`` is the stored bytes as text (``state_b64`` instead when they are not
UTF-8), so the chain can be recomputed over exactly the bytes that were
hashed. The last line is ``{"digest":"<hex>","rows":N}``: the final chain
hash. Keep the digest printed by ``audit export`` somewhere else; given back
to ``audit verify-export --digest``, it proves the file still holds the whole
history it was taken from, because rewriting any row, or cutting the tail and
forging a new digest line, cannot reproduce it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

import orjson

from application.audit.rows import RawRow
from application.audit.verify import Finding, Report, Verifier

EXPORT_MALFORMED = "export_malformed_line"
EXPORT_TRUNCATED = "export_truncated"
EXPORT_DIGEST_MISMATCH = "export_digest_mismatch"


def row_line(row: RawRow) -> bytes:
    n, originator_id, version, topic, state, stored = row
    record: dict[str, Any] = {"n": n}
    if originator_id is not None and state is not None:
        record["originator_id"] = originator_id
        record["originator_version"] = version
        record["topic"] = topic
        try:
            record["state"] = state.decode("utf-8")
        except UnicodeDecodeError:
            record["state_b64"] = base64.b64encode(state).decode("ascii")
    record["hash"] = None if stored is None else stored.hex()
    return orjson.dumps(record) + b"\n"


def digest_line(head: bytes, rows: int) -> bytes:
    return orjson.dumps({"digest": head.hex(), "rows": rows}) + b"\n"


class _MalformedLineError(ValueError):
    pass


def _row(record: dict[str, Any]) -> RawRow:
    try:
        n = record["n"]
        hash_hex = record["hash"]
        stored = None if hash_hex is None else bytes.fromhex(hash_hex)
        if "originator_id" not in record:
            return n, None, None, None, None, stored
        if "state" in record:
            state = record["state"].encode("utf-8")
        else:
            state = base64.b64decode(record["state_b64"], validate=True)
        return n, record["originator_id"], record["originator_version"], record["topic"], state, stored
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise _MalformedLineError(repr(error)) from None


def verify_export(lines: Iterable[bytes], digest: bytes | None = None) -> Report:
    """Recompute the chain and replay every invariant over an export's lines.

    With ``digest`` (a chain head recorded earlier), also require that the
    file holds the history up to that head: a digest not met on the way means
    the tail was cut or rows were rewritten.
    """
    verifier = Verifier()
    extra: list[Finding] = []
    position = 0
    rows = 0
    digest_record: dict[str, Any] | None = None
    digest_seen = digest is None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if digest_record is not None:
            extra.append(Finding(EXPORT_MALFORMED, position, None, f"line {number} follows the digest line"))
            continue
        try:
            record = orjson.loads(line)
            if not isinstance(record, dict):
                raise _MalformedLineError("not a JSON object")
            if "digest" in record:
                digest_record = record
                continue
            row = _row(record)
        except (orjson.JSONDecodeError, _MalformedLineError) as error:
            extra.append(Finding(EXPORT_MALFORMED, position, None, f"line {number} cannot be read: {error}"))
            continue
        position = row[0]
        rows += 1
        verifier.feed(row)
        if not digest_seen and row[5] == digest:
            digest_seen = True
    head = verifier.chain_head
    if digest_record is None:
        extra.append(
            Finding(EXPORT_TRUNCATED, position, None, "the export has no digest line: its tail was cut")
        )
    elif digest_record.get("digest") != head.hex() or digest_record.get("rows") != rows:
        extra.append(
            Finding(
                EXPORT_DIGEST_MISMATCH,
                position,
                None,
                f"the digest line says {digest_record.get('digest')} over "
                f"{digest_record.get('rows')} rows; the file holds {rows} rows "
                f"ending in {head.hex()}",
            )
        )
    if not digest_seen:
        assert digest is not None
        extra.append(
            Finding(
                EXPORT_TRUNCATED,
                position,
                None,
                f"no row of the export ends the chain at the recorded digest {digest.hex()}: "
                "rows were removed from its tail or rewritten",
            )
        )
    report = verifier.finish()
    report.findings.extend(extra)
    report.findings.sort(key=lambda f: f.position)
    report.findings_total += len(extra)
    return report
