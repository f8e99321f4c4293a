"""The projections as a long-running component, and their lag."""

from __future__ import annotations

import logging
import threading

from projections.runner import ViewsRunner

log = logging.getLogger("promocredits.projections")


class ProjectionsComponent:
    """Keeps the views current inside `promocredits run` (a Component)."""

    name = "projections"

    def __init__(self, runner: ViewsRunner, poll_interval: float = 0.2) -> None:
        self.runner = runner
        self.poll_interval = poll_interval

    def run(self, stop: threading.Event) -> None:
        log.info("projecting views from position %d", self.runner.position())
        run_projections(self.runner, stop, self.poll_interval)


def run_projections(runner: ViewsRunner, stop: threading.Event, poll_interval: float = 0.2) -> None:
    """Project continuously until ``stop`` is set; safe to call in a thread.
    (The API's /metrics computes the lag itself, from the databases.)"""
    runner.run_until_stopped(stop, poll_interval)
