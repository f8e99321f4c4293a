"""The audit pipeline over a real store: raw rows in, a verification report out.

The read models join the verification through one hook, ``ViewsReader``: when
the views side provides one, its snapshot is compared with the replay at the
snapshot's own tracking position, so a live store with lagging views still
compares exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from application.audit.export import digest_line, row_line
from application.audit.rows import RawLog, RawRow
from application.audit.verify import Anchor, Report, Verifier, ViewsReader

# How often progress is reported: often enough for a smooth bar, rarely
# enough to cost nothing next to the work done on each row.
PROGRESS_EVERY = 5_000

Progress = Callable[[int], None]


def _tracked(rows: Iterator[RawRow], progress: Progress | None) -> Iterator[RawRow]:
    if progress is None:
        yield from rows
        return
    for count, row in enumerate(rows, start=1):
        yield row
        if count % PROGRESS_EVERY == 0:
            progress(row[0])


def verify_store(
    log: RawLog,
    views: ViewsReader | None = None,
    progress: Progress | None = None,
    anchor: Anchor | None = None,
) -> Report:
    # The views are read first: the record only grows, so everything they
    # reflect is below the head read next and the replay passes their position.
    snapshot = views.snapshot() if views is not None else None
    head = log.head()
    verifier = Verifier(snapshot, anchor)
    verifier.feed_all(_tracked(log.rows(head), progress))
    return verifier.finish()


def export_store(log: RawLog, out: Path, progress: Progress | None = None) -> Report:
    """Write every raw row and the closing digest; verify on the way."""
    head = log.head()
    verifier = Verifier()
    partial = out.with_name(out.name + ".partial")
    rows = 0
    with partial.open("wb") as sink:
        for row in _tracked(log.rows(head), progress):
            verifier.feed(row)
            sink.write(row_line(row))
            rows += 1
        sink.write(digest_line(verifier.chain_head, rows))
        sink.flush()
        os.fsync(sink.fileno())
    # A crash mid-export leaves a .partial file, never a short file under the
    # real name that could pass for a complete export.
    partial.replace(out)
    return verifier.finish()
