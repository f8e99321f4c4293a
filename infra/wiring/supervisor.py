"""`promocredits run`: each part of the service in a process of its own.

Parts run as child processes of the same command line (`promocredits consume`,
`relay`, `projections run`, `serve`) so the consumer, the relay and the
projections do not share one interpreter lock: on a machine with several cores
they work in parallel. The parent only supervises: SIGTERM or SIGINT is passed
on to every child, and one child exiting stops the rest, so the service as a
whole is restarted by whatever runs it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable

from infra.wiring.components import ComponentFailedError
from infra.wiring.metrics import MULTIPROCESS_DIR

log = logging.getLogger("promocredits")

# part name -> promocredits arguments
PARTS: dict[str, list[str]] = {
    "consumer": ["consume"],
    "relay": ["relay"],
    "projections": ["projections", "run"],
    "api": ["serve"],
}

# Parts that yield the CPU to the others when there is not enough for all:
# the views are eventually consistent and catch up in the gaps, while
# settlements are what billing waits for. Where cores are to spare it
# changes nothing.
NICENESS: dict[str, int] = {"projections": 10}

_PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_SECONDS = 30


def _stop_with_parent() -> None:
    # A parent killed with SIGKILL cannot pass the signal on; the kernel then
    # sends SIGTERM to its children, so no part outlives the service.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _starting(name: str) -> Callable[[], None]:
    """What a part's process does before it runs the part's command."""
    niceness = NICENESS.get(name, 0)

    def start() -> None:
        _stop_with_parent()
        if niceness:
            os.nice(niceness)

    return start


def supervise(stop: threading.Event, parts: dict[str, list[str]] = PARTS) -> None:
    # Every part writes its metrics here; the API serves them all at /metrics.
    metrics_dir = tempfile.mkdtemp(prefix="promocredits-metrics-")
    env = {**os.environ, MULTIPROCESS_DIR: metrics_dir}
    try:
        _supervise(stop, parts, env)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _supervise(stop: threading.Event, parts: dict[str, list[str]], env: dict[str, str]) -> None:
    children = {
        name: subprocess.Popen(
            [sys.executable, "-m", "infra.entrypoints.cli.main", *arguments],
            env=env,
            preexec_fn=_starting(name),
        )
        for name, arguments in parts.items()
    }
    exited: list[str] = []
    while not stop.wait(0.2):
        exited = [
            f"{name} exited with {child.returncode}"
            for name, child in children.items()
            if child.poll() is not None
        ]
        if exited:
            log.error("stopping the service: %s", "; ".join(exited))
            break
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %ds; killing it", name, STOP_TIMEOUT_SECONDS)
            child.kill()
            child.wait()
    if exited:
        raise ComponentFailedError("; ".join(exited))
