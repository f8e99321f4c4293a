"""How commands answer: one JSON object with --json, a readable table otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import orjson
import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from application.money import with_currency
from domain.errors import IdempotencyConflictError, InvalidCommandError, LedgerError
from infra.adapters.store.urls import DatabaseURLError, MissingLedgerError, without_passwords

EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_CONFLICT = 3

# Piped or captured output gets wide lines rather than rich's 80 columns, so
# timestamps and keys are never folded across several lines.
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


def fail(message: str, code: int) -> NoReturn:
    stderr.print(f"error: {without_passwords(message)}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and an exit code."""
    try:
        yield
    except (InvalidCommandError, DatabaseURLError) as error:
        fail(str(error), EXIT_INVALID)
    except IdempotencyConflictError as error:
        fail(str(error), EXIT_CONFLICT)
    except MissingLedgerError as error:
        fail(str(error), EXIT_FAILURE)
    except LedgerError as error:
        fail(str(error), EXIT_FAILURE)
    except PersistenceError as error:
        # The ledger or the views database: the pool's timeout does not say
        # which, so name both settings.
        fail(
            f"a database failed: {_first_line(error)} (check that the server named by "
            "PROMOCREDITS_DATABASE_URL or PROMOCREDITS_VIEWS_DATABASE_URL is up and accepts the user)",
            EXIT_FAILURE,
        )


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(payload).decode() + "\n")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    # The title on a line of its own: as a table title rich would fold it to
    # the width of a narrow table.
    stdout.print(title, markup=False, soft_wrap=True)
    grid = Table()
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    stdout.print(grid)


def emit(as_json: bool, payload: dict[str, Any], render: Callable[[], None]) -> None:
    if as_json:
        emit_json(payload)
    else:
        render()


money = with_currency

# Every command's --json.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]


def optional_money(minor: int | None, currency: str) -> str:
    """An amount that only some kinds of ledger entry have; blank for the others."""
    return "" if minor is None else money(minor, currency)


@contextmanager
def progress(label: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich bar on stderr for long work, called with (done, total); shown only
    on a terminal and never with --json, so machine output stays clean."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=not enabled or not stderr.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=max(total, 1))
