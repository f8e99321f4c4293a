"""Runs the views projection over the ledger's notification log, in batches.

eventsourcing's ProjectionRunner processes one event per transaction and needs
a recorder that supports subscriptions (SQLite's does not). This runner polls
the notification log instead and applies a whole batch with its tracking
position in one transaction: the same exactly-once guarantee, at a fraction of
the commits, on both databases.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import DataError, IntegrityError, Mapper, Notification, PersistenceError

from projections.ledger_views import LedgerViewsProjection, Prepared
from projections.ports import SetAside, TrackingConflictError
from projections.storable import storable_error
from projections.stored_changes import StoredChanges

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class NotificationLog(Protocol):
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...


class ViewsRunner:
    def __init__(
        self,
        projection: LedgerViewsProjection,
        notifications: NotificationLog,
        mapper: Mapper[Any],
        application_name: str,
        *,
        batch_size: int = 500,
    ) -> None:
        self.projection = projection
        self.notifications = notifications
        self.mapper = mapper
        self.application_name = application_name
        self.batch_size = batch_size
        self._stored_changes = StoredChanges(mapper)

    def position(self) -> int:
        """The last notification id the views include (0: none)."""
        return self.projection.store.max_tracking_id(self.application_name) or 0

    def head(self) -> int:
        return self.notifications.max_notification_id() or 0

    def lag(self) -> int:
        """Events recorded but not yet in the views."""
        return max(0, self.head() - self.position())

    def step(self) -> int:
        """Project the next batch; the number of events it held.

        An event the views cannot take is set aside (recorded with its error
        in the views database, logged) and the position moves past it, so one
        bad event never holds back the others. Outages are raised for the
        caller to retry.
        """
        after = self.projection.store.max_tracking_id(self.application_name)
        batch = self.notifications.select_notifications((after or 0) + 1, self.batch_size)
        if not batch:
            return 0
        prepared = [self._prepare(n) for n in batch]
        try:
            self._apply(prepared, after)
        except TrackingConflictError:
            # Another runner applied this range first; read its position again.
            log.info("views position moved by another runner; re-reading it")
            return 0
        return len(batch)

    def _apply(self, prepared: Sequence[Prepared], after: int | None) -> None:
        try:
            self.projection.apply_prepared(prepared, self.application_name, after)
        except TrackingConflictError:
            raise
        except Exception as error:
            if is_outage(error) or (len(prepared) == 1 and isinstance(prepared[0][1], SetAside)):
                raise
            # The database refused something in the batch: find what by
            # applying its events one per transaction.
            log.info("the views refused a batch (%s); applying its events one by one", storable_error(error))
            self._apply_one_by_one(prepared, after)
            return
        self._log_set_aside(prepared)

    def _apply_one_by_one(self, prepared: Sequence[Prepared], after: int | None) -> None:
        for item in prepared:
            try:
                self.projection.apply_prepared([item], self.application_name, after)
            except TrackingConflictError:
                raise
            except Exception as error:
                if is_outage(error):
                    raise
                item = (item[0], SetAside(item[0], storable_error(error)))
                self.projection.apply_prepared([item], self.application_name, after)
            self._log_set_aside([item])
            after = item[0]

    def _prepare(self, notification: Notification) -> Prepared:
        changes = self._stored_changes.changes(notification)
        if changes is not None:
            return notification.id, changes
        return self.projection.prepare(notification.id, lambda: self.mapper.to_domain_event(notification))

    @staticmethod
    def _log_set_aside(prepared: Sequence[Prepared]) -> None:
        for _, item in prepared:
            if isinstance(item, SetAside):
                log.error(
                    "event at position %d set aside from the views (the views go on without it; "
                    "`promocredits projections rebuild` retries it): %s",
                    item.notification_id,
                    item.error,
                )

    def catch_up(self, progress: Progress | None = None, stop: threading.Event | None = None) -> int:
        """Project everything recorded up to now; returns the position reached."""
        target = self.head()
        position = self.position()
        if progress:
            progress(position, target)
        while position < target and not (stop and stop.is_set()):
            if self.step() == 0 and self.position() == position:
                break  # nothing readable below the target (ids may have gaps)
            position = self.position()
            if progress:
                progress(position, target)
        return position

    def rebuild(self, progress: Progress | None = None) -> int:
        """Replace the views with a replay of the whole history, then catch up.

        The replay is one transaction: readers (the API) keep seeing the old
        views until the rebuilt ones replace them whole, and a live runner
        waits, then finds the position moved and carries on from there.
        """
        target = self.head()

        def batches() -> Iterator[list[Prepared]]:
            position = 0
            if progress:
                progress(position, target)
            while position < target:
                page = self.notifications.select_notifications(position + 1, self.batch_size, stop=target)
                if not page:
                    return
                prepared = [self._prepare(n) for n in page]
                yield prepared
                self._log_set_aside(prepared)
                position = page[-1].id
                if progress:
                    progress(position, target)

        try:
            self.projection.rebuild(batches(), self.application_name)
        except TrackingConflictError:
            raise
        except Exception as error:
            if is_outage(error):
                raise
            # One transaction cannot skip what the database refuses. Rebuild
            # in place instead, where catching up finds and sets it aside;
            # readers see the views fill up rather than the old ones.
            log.warning("the views refused an event during the rebuild, rebuilding in place: %s", error)
            self.projection.store.clear(self.application_name)
        return self.catch_up(progress)

    def run_until_stopped(
        self, stop: threading.Event, poll_interval: float = 0.2, heartbeat_seconds: float = 1.0
    ) -> None:
        """Keep the views current until ``stop`` is set; fit for a thread.

        A failure that is not one event's (a database outage, most often) is
        waited out with backoff, never skipped: the position only moves with
        the changes it covers. The projector records its pulse in the views
        database every ``heartbeat_seconds``, and its failures as they happen,
        so readiness can tell a stopped or failing projector from an idle one.
        """
        backoff = poll_interval
        last_pulse = -math.inf
        while not stop.is_set():
            try:
                processed = self.step()
            except Exception as error:
                log.warning("projecting views failed, retrying in %.1fs: %s", backoff, storable_error(error))
                self._pulse(storable_error(error))
                last_pulse = -math.inf  # the first success after clears the failure at once
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = poll_interval
            if time.monotonic() - last_pulse >= heartbeat_seconds and self._pulse(None):
                last_pulse = time.monotonic()
            if processed == 0:
                stop.wait(poll_interval)

    def _pulse(self, error: str | None) -> bool:
        try:
            self.projection.store.record_status(self.application_name, time.time_ns() // 1_000_000, error)
        except Exception as failure:  # the views database may be what is down
            log.debug("could not record the projector's status: %s", failure)
            return False
        return True


# SQLSTATE classes of PostgreSQL errors caused by the data written, not by the
# database's state: data exceptions, integrity violations, program limits
# (an index row too large, say).
_DATA_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` is about reaching or using the database (retry it)
    rather than about the data written (the same on every attempt)."""
    if isinstance(error, DataError | IntegrityError):
        return False
    if isinstance(error, PersistenceError):
        sqlstate = getattr(error.__cause__, "sqlstate", None)
        return not (isinstance(sqlstate, str) and sqlstate[:2] in _DATA_SQLSTATE_CLASSES)
    # Sockets, files and timeouts; anything else (OverflowError, ValueError,
    # UnicodeEncodeError...) comes from the values being written.
    return isinstance(error, OSError | TimeoutError)
