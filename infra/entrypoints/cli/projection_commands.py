"""Commands for the read models and the HTTP API: projections run / rebuild /
status, and serve."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.adapters.store.urls import check_ledger_exists
from infra.entrypoints.cli.context import container, serve_components
from infra.entrypoints.cli.output import JsonFlag, emit, progress, table, user_errors
from infra.entrypoints.workers import parts

app = typer.Typer(
    help="Build and inspect the read models (balances, history, analytics).", no_args_is_help=True
)
serve_app = typer.Typer()


def _status() -> dict[str, int]:
    check_ledger_exists(container().settings.database_url)
    runner = container().views_runner
    head = runner.head()
    health = runner.projection.store.health(runner.application_name)
    return {
        "event_store_head": head,
        "projection_position": health.position,
        "projection_lag_events": max(0, head - health.position),
        # Events the views could not take; the projector's log says why.
        "projection_quarantined_events": health.quarantined,
    }


def _render_status(status: dict[str, int]) -> None:
    table(
        "Projections",
        ["events recorded", "projected up to", "lag", "set aside"],
        [
            [
                status["event_store_head"],
                status["projection_position"],
                status["projection_lag_events"],
                status["projection_quarantined_events"],
            ]
        ],
    )


@app.command("run")
def run_projections(
    until_caught_up: Annotated[
        bool, typer.Option("--until-caught-up", help="Stop once everything recorded so far is projected.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Keep the views current (until SIGTERM/SIGINT), or catch up once."""
    if until_caught_up:
        with user_errors(), progress("projecting", not as_json) as advance:
            container().views_runner.catch_up(advance)
            status = _status()
        emit(as_json, status, lambda: _render_status(status))
        return
    serve_components([parts.projector(container())])


@app.command()
def rebuild(as_json: JsonFlag = False) -> None:
    """Rebuild every view from the full history, then catch up."""
    with user_errors(), progress("rebuilding views", not as_json) as advance:
        container().views_runner.rebuild(advance)
        status = _status()
    emit(as_json, status, lambda: _render_status(status))


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """How far the views lag behind the event store."""
    with user_errors():
        current = _status()
    emit(as_json, current, lambda: _render_status(current))


@serve_app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: PROMOCREDITS_API_HOST, else 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: PROMOCREDITS_API_PORT, else 8080).")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) until SIGTERM/SIGINT."""
    serve_components([parts.api(container(), host, port)])
