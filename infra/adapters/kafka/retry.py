"""Backoff for transient failures: the store or the broker is down for a while."""

from __future__ import annotations

import threading


class Backoff:
    def __init__(self, first: float = 0.1, ceiling: float = 5.0) -> None:
        self._first = first
        self._ceiling = ceiling
        self._next = first

    def reset(self) -> None:
        self._next = self._first

    def wait(self, stop: threading.Event) -> None:
        """Sleep, waking early when asked to stop."""
        stop.wait(self._next)
        self._next = min(self._next * 2, self._ceiling)
