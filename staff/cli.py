"""The staff command line: ``python -m staff [--stage S | --local] [--table T] GROUP COMMAND ...``.

Groups: ``events`` (put, list, show), ``registrations`` (list, export, cancel, erase,
set-email, resend, simulate, checkin), ``exports`` (start, list, convert, query), and the command
``checkin-link`` (:mod:`staff.commands.checkin`); each group is a module of
:mod:`staff.commands`, which parse, call an operation and print. Exit codes: see :mod:`staff` (0 ok,
1 not found / nothing done, 2 usage or validation error, 3 AWS error, 141 stdout's reader gone). Progress goes to
stderr, results to stdout (or the ``-o`` file). Nothing is logged; personal data only
appears in the output the command is asked for.
"""

from __future__ import annotations

import click

from staff import EXIT_NOT_FOUND, EXIT_OK
from staff.commands.checkin import checkin_link
from staff.commands.events import events
from staff.commands.exports import exports
from staff.commands.registrations import registrations
from staff.commands.running import CONTEXT


@click.group(context_settings=CONTEXT)
@click.option("--stage", envvar="STAFF_STAGE", metavar="NAME",
              help="Stage in .chalice/config.json (local, dev, prod): its TABLE_NAME, EXPORT_BUCKET, ... "
                   "[env: STAFF_STAGE]")
@click.option("--local", is_flag=True,
              help="Use make run's AWS stand-in: http://127.0.0.1:$AWS_PORT (default 5000), fake credentials, "
                   "stage local.")
@click.option("--table", metavar="NAME", help="DynamoDB table name (overrides the stage's TABLE_NAME).")
@click.pass_context
def cli(ctx: click.Context, stage: str | None, local: bool, table: str | None) -> None:
    """Staff tools for the event registration service.

    Uses your own AWS credentials (AWS_PROFILE, SSO, environment); there are no
    admin endpoints on the public API. Say which table with --stage, --local or --table.

    \b
    Exit codes:
      0  done
      1  not found, or nothing to do
      2  usage or validation error
      3  AWS error (credentials, permissions, network, failed export)
    141  the reader of stdout went away (... -o - | head): stopped quietly

    \b
    Examples:
      python -m staff --local events list
      python -m staff --stage prod registrations export partos-engagement-mobilisatie-2023 -o list.xlsx
    """
    ctx.obj = {"stage": stage, "local": local, "table": table}


cli.add_command(events)
cli.add_command(registrations)
cli.add_command(exports)
cli.add_command(checkin_link)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :mod:`staff`)."""
    try:
        code = cli.main(args=argv, prog_name="python -m staff", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_NOT_FOUND
    except click.ClickException as error:
        error.show()
        return error.exit_code
