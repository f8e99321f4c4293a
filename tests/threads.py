"""Background threads whose failures fail the test that started them.

An exception in a plain ``threading.Thread`` is printed to stderr and lost: the
test goes on and may pass on whatever the thread managed before it died.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class CheckedThread(threading.Thread):
    """Runs ``target``; ``finish`` joins it and re-raises what it raised."""

    def __init__(self, target: Callable[..., Any], *args: Any, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self._work_args = args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work(*self._work_args)
        except BaseException as error:  # surfaced by finish()
            self.error = error

    def finish(self, timeout: float = 60.0) -> None:
        """Wait for the thread; fail if it is still running or if it failed."""
        self.join(timeout)
        assert not self.is_alive(), f"thread {self.name} still running after {timeout} s"
        if self.error is not None:
            raise AssertionError(f"thread {self.name} failed: {self.error!r}") from self.error
