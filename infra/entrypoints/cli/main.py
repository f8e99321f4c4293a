"""promocredits: operate the promotional-credits ledger."""

from __future__ import annotations

import re
import sys

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from infra.adapters.store.urls import without_passwords
from infra.entrypoints.cli import (
    audit_commands,
    invoice_commands,
    ledger_commands,
    pipeline_commands,
    projection_commands,
    support_commands,
)
from infra.entrypoints.cli.output import EXIT_FAILURE, EXIT_INVALID, stderr

try:  # Recent typer vendors click; its usage errors are raised from there.
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover - typer depending on click itself
    from click import exceptions as click  # type: ignore[no-redef]

app = typer.Typer(
    help="Promotional-credits ledger: grant credits, apply them to invoices, audit the record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.registered_commands.extend(ledger_commands.app.registered_commands)
app.registered_commands.extend(invoice_commands.app.registered_commands)
app.add_typer(audit_commands.app, name="audit")
app.registered_commands.extend(pipeline_commands.app.registered_commands)
app.add_typer(projection_commands.app, name="projections")
app.registered_commands.extend(projection_commands.serve_app.registered_commands)
app.registered_commands.extend(support_commands.app.registered_commands)


def main() -> None:
    try:
        # Not standalone: click's own usage errors would print a multi-line
        # box; every user error must be one line on stderr.
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError as error:
        # Rich renders the help while the error is built; plain click returns it.
        if error.format_message().strip():
            print(error.format_message())
        sys.exit(EXIT_INVALID)
    except click.UsageError as error:
        message = " ".join(error.format_message().split())
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        stderr.print(f"error: {message}{hint}", markup=False, soft_wrap=True)
        sys.exit(EXIT_INVALID)
    except click.ClickException as error:
        stderr.print(f"error: {' '.join(error.format_message().split())}", markup=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Abort:
        stderr.print("error: aborted", markup=False)
        sys.exit(EXIT_FAILURE)
    except ValidationError as error:
        # Settings from the environment are validated on first use.
        # Only the setting's own name: deeper parts of the location can be
        # a secret (a token is a key of PROMOCREDITS_API_TOKENS).
        first = error.errors()[0]
        where = str(first["loc"][0]).upper() if first["loc"] else "?"
        message = " ".join(first["msg"].split())
        stderr.print(
            f"error: setting PROMOCREDITS_{where} is invalid: {message}", markup=False, soft_wrap=True
        )
        sys.exit(EXIT_INVALID)
    except SettingsError as error:
        # A complex setting (a JSON object) that does not parse at all.
        field = re.search(r'field "(\w+)"', str(error))
        name = f"PROMOCREDITS_{field.group(1).upper()}" if field else "a PROMOCREDITS_ setting"
        stderr.print(f"error: setting {name} is invalid: it must be JSON", markup=False, soft_wrap=True)
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # a user never sees a traceback
        detail = without_passwords(" ".join(str(error).split()))
        stderr.print(f"error: {type(error).__name__}: {detail}", markup=False, soft_wrap=True)
        sys.exit(EXIT_FAILURE)
    # typer.Exit(code) comes back as the return value when not standalone.
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
