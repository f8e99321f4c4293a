"""promocredits: operate the promotional-credits ledger."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from infra.cli import ledger_commands
from infra.cli.output import EXIT_FAILURE, EXIT_INVALID, stderr

app = typer.Typer(
    help="Promotional-credits ledger: grant credits, apply them to invoices, audit the record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.registered_commands.extend(ledger_commands.app.registered_commands)


def main() -> None:
    try:
        app()
    except ValidationError as error:
        # Settings from the environment are validated on first use.
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).upper()
        stderr.print(f"error: setting PROMOCREDITS_{where} is invalid: {first['msg']}", markup=False)
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - a user never sees a traceback
        stderr.print(f"error: {type(error).__name__}: {error}", markup=False)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
