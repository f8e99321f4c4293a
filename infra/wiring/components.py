"""Long-running parts of the service (consumer, relay, projector, HTTP API) and
the one way to run several of them as threads of one process; the
supervisor runs them as processes instead."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

log = logging.getLogger("promocredits")


class Component(Protocol):
    """Runs until ``stop`` is set, then returns after cleaning up.

    Transient failures (store or broker down) are the component's to retry;
    an exception out of ``run`` means it cannot go on, and stops the process.
    """

    name: str

    def run(self, stop: threading.Event) -> None: ...


class ComponentFailedError(RuntimeError):
    """A component stopped with an error; the others were stopped too."""


class ComponentCannotRunError(RuntimeError):
    """A component cannot run for a reason its message fully explains (a port
    taken, say): reported in one line, without a traceback."""


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask every component to finish cleanly."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run_components(components: Sequence[Component], stop: threading.Event) -> None:
    """Run each component in its own thread until ``stop`` is set or one fails."""
    failures: list[str] = []

    def supervise(component: Component) -> None:
        try:
            component.run(stop)
        except ComponentCannotRunError as error:
            log.error("%s cannot run: %s", component.name, error)
            failures.append(f"{component.name}: {error}")
        except BaseException as error:
            log.exception("%s failed", component.name)
            failures.append(f"{component.name}: {type(error).__name__}: {error}")
        finally:
            # One part down means the service is not doing its job: stop all,
            # let the supervisor (systemd, Kubernetes, make run) restart us.
            stop.set()

    threads = [threading.Thread(target=supervise, args=(c,), name=c.name, daemon=True) for c in components]
    for thread in threads:
        thread.start()
    # Waiting with a timeout keeps the main thread able to take signals.
    while not stop.wait(0.2):
        pass
    for thread in threads:
        thread.join()
    if failures:
        raise ComponentFailedError("; ".join(failures))
