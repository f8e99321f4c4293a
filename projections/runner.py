"""Runs the views projection over the ledger's notification log, in batches.

eventsourcing's ProjectionRunner processes one event per transaction and needs
a recorder that supports subscriptions (SQLite's does not). This runner polls
the notification log instead and applies a whole batch with its tracking
position in one transaction: the same exactly-once guarantee, at a fraction of
the commits, on both databases.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Mapper, Notification, PersistenceError, Tracking

from projections.ledger_views import LedgerViewsProjection
from projections.ports import TrackingConflictError

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

    def position(self) -> int:
        """The last notification id the views include (0: none)."""
        return self.projection.store.max_tracking_id(self.application_name) or 0

    def head(self) -> int:
        return self.notifications.max_notification_id() or 0

    def lag(self) -> int:
        """Events recorded but not yet in the views."""
        return max(0, self.head() - self.position())

    def step(self) -> int:
        """Project the next batch; the number of events it held."""
        after = self.projection.store.max_tracking_id(self.application_name)
        batch = self.notifications.select_notifications((after or 0) + 1, self.batch_size)
        if not batch:
            return 0
        try:
            self.projection.process_batch(self._tracked(batch), after)
        except TrackingConflictError:
            # Another runner applied this range first; read its position again.
            log.info("views position moved by another runner; re-reading it")
            return 0
        return len(batch)

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

        def batches() -> Iterator[list[tuple[Any, Tracking]]]:
            position = 0
            if progress:
                progress(position, target)
            while position < target:
                page = self.notifications.select_notifications(position + 1, self.batch_size, stop=target)
                if not page:
                    return
                yield self._tracked(page)
                position = page[-1].id
                if progress:
                    progress(position, target)

        self.projection.rebuild(batches(), self.application_name)
        return self.catch_up(progress)

    def _tracked(self, notifications: Sequence[Notification]) -> list[tuple[Any, Tracking]]:
        """Each event with the position that records it was projected."""
        name = self.application_name
        return [(self.mapper.to_domain_event(n), Tracking(name, n.id)) for n in notifications]

    def run_until_stopped(self, stop: threading.Event, poll_interval: float = 0.2) -> None:
        """Keep the views current until ``stop`` is set; fit for a thread.

        A database outage is waited out with backoff, never skipped: the
        position only moves with the changes it covers.
        """
        backoff = poll_interval
        while not stop.is_set():
            try:
                processed = self.step()
            except PersistenceError as error:
                log.warning("projecting views failed, retrying in %.1fs: %s", backoff, error)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = poll_interval
            if processed == 0:
                stop.wait(poll_interval)
