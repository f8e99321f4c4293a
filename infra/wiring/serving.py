"""How a long-running command runs its components: logging, signals, threads."""

from __future__ import annotations

import logging
import threading

from infra.wiring.components import Component, run_components, stop_on_signals


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every failed connection attempt; our components
    # report each failure and retry once per backoff step instead.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def serve(components: list[Component]) -> None:
    """Run until SIGTERM/SIGINT; raises ComponentFailedError when one failed
    (and so stopped the others)."""
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop)
    run_components(components, stop)
