"""How a long-running command runs its components: logging, signals, threads."""

from __future__ import annotations

import gc
import logging
import threading

from infra.wiring.components import Component, run_components, stop_on_signals


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every failed connection attempt; our components
    # report each failure and retry once per backoff step instead.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


# Young collections once every this many new container objects, not every
# 700: the workers allocate and drop thousands of short-lived objects per
# batch (events, messages, rows), and the default thresholds had the
# collector walk the long-lived caches so often that it cost a fifth of
# their CPU. Cyclic garbage waits a little longer; there is little of it.
YOUNG_COLLECTION_THRESHOLD = 50_000


def tune_garbage_collection() -> None:
    """For a long-running process, once it is built: what exists now (modules,
    settings, clients) is never collected, so never walked again, and young
    collections run less often."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, 20, 100)


def serve(components: list[Component]) -> None:
    """Run until SIGTERM/SIGINT; raises ComponentFailedError when one failed
    (and so stopped the others)."""
    configure_logging()
    tune_garbage_collection()
    stop = threading.Event()
    stop_on_signals(stop)
    run_components(components, stop)
