"""Whether the views are fit to serve: the policy behind /readyz.

Reachable databases are not enough. Views that silently stopped following the
ledger serve stale balances as if they were current, so readiness also fails
when events were set aside, when the projector fails or has stopped while
events wait, and when it lags too far behind.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from projections.ports import ViewsHealth


@dataclass(frozen=True)
class ReadinessLimits:
    max_lag_events: int
    # Events may wait this long without the views moving before the
    # projector counts as stopped.
    max_stall_ms: int


class StallWatch:
    """Remembers since when the views have stood still while events waited.

    The projector's own pulse shows a projector that died; this covers views
    no projector has ever run on, as seen by the process asking.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: tuple[int, int] | None = None  # (position, first seen lagging at ms)

    def standing_still_ms(self, position: int, lagging: bool, now_ms: int) -> int:
        with self._lock:
            if not lagging:
                self._since = None
                return 0
            if self._since is None or self._since[0] != position:
                self._since = (position, now_ms)
            return now_ms - self._since[1]


def unready_reason(
    head: int, health: ViewsHealth, now_ms: int, limits: ReadinessLimits, watch: StallWatch
) -> str | None:
    """Why the views must not serve now, or None when they may."""
    lag = max(0, head - health.position)
    if health.quarantined:
        first = health.first_quarantined
        where = f", the first at position {first.notification_id}" if first else ""
        # The error text itself stays in the log and the views database: it
        # may quote stored data, and /readyz answers without a token.
        return (
            f"{health.quarantined} event(s) could not be projected and were set aside{where}; "
            "fix the cause, then run `promocredits projections rebuild`"
        )
    if health.failing_since_ms is not None:
        return f"projections are failing since {_utc(health.failing_since_ms)}; see the projector's log"
    still_ms = watch.standing_still_ms(health.position, lag > 0, now_ms)
    if lag and health.checked_at_ms is not None:
        still_ms = max(still_ms, now_ms - health.checked_at_ms)
    if lag and still_ms > limits.max_stall_ms:
        return (
            f"the projector is stopped: {lag} event(s) wait and the views have not moved for "
            f"{still_ms // 1000}s (position {health.position})"
        )
    if lag > limits.max_lag_events:
        return f"the views lag {lag} events behind the event store (more than {limits.max_lag_events})"
    return None


def _utc(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms // 1000, UTC).isoformat().replace("+00:00", "Z")
