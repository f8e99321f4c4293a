"""Commands that run the Kafka pipeline: consume, relay, run; and contracts,
which writes the message contracts' JSON Schemas."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from consumers.contracts import schema_documents
from infra.adapters.store.urls import without_passwords
from infra.entrypoints.cli.context import container, serve_components
from infra.entrypoints.cli.output import EXIT_FAILURE, fail, stderr
from infra.entrypoints.workers import parts
from infra.wiring.components import Component, ComponentFailedError, stop_on_signals
from infra.wiring.serving import configure_logging
from infra.wiring.supervisor import supervise

app = typer.Typer()

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


def _serve(components: list[Component]) -> None:
    settings = container().settings
    stderr.print(
        f"promocredits: {', '.join(c.name for c in components)} on {settings.kafka_bootstrap} "
        f"(store {without_passwords(settings.database_url)}); Ctrl-C or SIGTERM stops",
        markup=False,
        soft_wrap=True,
    )
    serve_components(components)


@app.command()
def consume() -> None:
    """Apply credits to every invoice on the inbound topic (until SIGTERM/SIGINT)."""
    _serve([parts.invoice_consumer(container())])


@app.command()
def relay() -> None:
    """Publish recorded ledger events and settlements to Kafka (until SIGTERM/SIGINT)."""
    _serve([parts.relay(container())])


@app.command()
def run(
    threads: Annotated[
        bool, typer.Option("--threads", help="Run every part as a thread of one process instead.")
    ] = False,
) -> None:
    """Run the whole service: consumer, relay, projections and the HTTP API,
    each in a process of its own (until SIGTERM/SIGINT)."""
    if threads:
        _serve(parts.service(container()))
        return
    configure_logging()
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        supervise(stop)
    except ComponentFailedError as error:
        fail(str(error), EXIT_FAILURE)


@app.command()
def contracts(
    check: Annotated[bool, typer.Option("--check", help="Only check the files are current.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Directory of the schema files.")] = CONTRACTS_DIR,
) -> None:
    """Write the JSON Schemas of the Kafka message contracts."""
    documents = schema_documents()
    stale = [name for name, text in documents.items() if _read(out / name) != text]
    if check:
        if stale:
            fail(f"out of date: {', '.join(stale)} (run: promocredits contracts)", EXIT_FAILURE)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out / name).write_text(documents[name])
    stderr.print(f"{len(stale)} of {len(documents)} schema files updated in {out}", markup=False)


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
