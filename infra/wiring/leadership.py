"""One active relay and one active projector per store, however many replicas run.

Each elected part runs only while its replica holds the store's lock for it
(infra.adapters.locks). A standby takes over within its polling interval once
the holder's process dies, and at once after a clean shutdown, which releases
the lock explicitly.
"""

from __future__ import annotations

import logging
import threading
import time

from infra.adapters.locks import Leadership
from infra.wiring.components import Component
from infra.wiring.metrics import PART_ACTIVE, PART_ROLE_SINCE

log = logging.getLogger("promocredits.leadership")


def _record_role(part: str, active: bool) -> None:
    PART_ACTIVE.labels(part).set(1 if active else 0)
    PART_ROLE_SINCE.labels(part).set(time.time())


class LeaderOnly:
    """Runs ``part`` only while this replica holds ``leadership``; stands by otherwise.

    The engine is asked every ``check_seconds`` whether the lock is still
    held; once it is not, the part is stopped before its next batch. A new
    holder waits two such intervals before it starts, so a former holder
    whose connection dropped (and with it the lock) has noticed by then:
    two replicas overlap by at most the batch in flight.
    """

    def __init__(
        self,
        part: Component,
        leadership: Leadership,
        *,
        poll_seconds: float = 0.5,
        check_seconds: float = 0.2,
    ) -> None:
        self.name = part.name
        self._part = part
        self._leadership = leadership
        self._poll_seconds = poll_seconds
        self._check_seconds = check_seconds

    def run(self, stop: threading.Event) -> None:
        _record_role(self.name, active=False)
        announced_standby = False
        try:
            while not stop.is_set():
                if not self._leadership.try_acquire():
                    if not announced_standby:
                        log.info("%s stands by: another replica is active", self.name)
                        announced_standby = True
                    stop.wait(self._poll_seconds)
                    continue
                announced_standby = False
                if stop.wait(2 * self._check_seconds):
                    break
                log.info("%s is active on this replica", self.name)
                _record_role(self.name, active=True)
                self._lead(stop)
                _record_role(self.name, active=False)
        finally:
            self._leadership.release()

    def _lead(self, stop: threading.Event) -> None:
        leading = threading.Event()  # set: stop the part
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if stop.wait(self._check_seconds):
                    break
                if not done.is_set() and not self._leadership.held():
                    log.warning("%s lost its leadership lock; standing by", self.name)
                    break
            leading.set()

        watcher = threading.Thread(target=watch, name=f"{self.name}-leadership", daemon=True)
        watcher.start()
        try:
            self._part.run(leading)
        finally:
            done.set()
            leading.set()
            watcher.join()
            self._leadership.release()
