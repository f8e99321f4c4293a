"""The projector: keeps the views current as a long-running part."""

from __future__ import annotations

import logging
import threading

from projections.runner import ViewsRunner

log = logging.getLogger("promocredits.projections")


class ProjectionsComponent:
    """Projects every newly recorded event into the views until stopped (a
    Component of `promocredits run`, elected to one replica per store). The
    lag is measured by the API, from the databases, not here."""

    name = "projections"

    def __init__(self, runner: ViewsRunner, poll_interval: float = 0.2) -> None:
        self.runner = runner
        self.poll_interval = poll_interval

    def run(self, stop: threading.Event) -> None:
        log.info("projecting views from position %d", self.runner.position())
        self.runner.run_until_stopped(stop, self.poll_interval)
