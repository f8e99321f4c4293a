"""How a long-running command runs its components: logging, signals, exit."""

from __future__ import annotations

import logging
import threading

from infra.cli.context import container
from infra.cli.output import EXIT_FAILURE, fail
from infra.components import Component, ComponentFailedError, run_components, stop_on_signals


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every failed connection attempt; our components
    # report each failure and retry once per backoff step instead.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def serve_components(components: list[Component]) -> None:
    """Run until SIGTERM/SIGINT; a component that fails stops the rest and exits 1."""
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        run_components(components, stop)
    except ComponentFailedError as error:
        fail(str(error), EXIT_FAILURE)
    finally:
        container().close()
