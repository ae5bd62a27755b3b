"""What every staff command shares: the table it points at, errors mapped to exit codes once, parsing, progress.

:func:`aws_command` wraps each command: it applies the global options (``staff.config``), runs the
command, and turns the errors operations raise into one ``Error: ...`` (or ``Nothing to do: ...``)
line on stderr and the exit code of :mod:`staff` (README, "Staff tools"). Progress goes to stderr,
and only when it is a terminal.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shlex
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, NoCredentialsError
from botocore.exceptions import ConnectionError as CannotConnect  # cannot connect, connect timeout, proxy

from staff import EXIT_AWS, EXIT_BROKEN_PIPE, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, NothingToDo
from staff.config import Applied, ConfigError, Target, resolve

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: Commands that can run without a table (``exports convert``/``query`` of a local folder).
TABLELESS = ("exports_convert", "exports_query")


#: Operations whose "not found" is about something other than the table (an export, a bucket's object).
_NOT_THE_TABLE = frozenset({"DescribeExport", "GetObject", "HeadObject", "ListObjectsV2", "HeadBucket"})


def _aws_message(error: Exception) -> str:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        said = f"AWS refused the request: {err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
        table = os.environ.get("TABLE_NAME")
        if err.get("Code") == "ResourceNotFoundException" and table and error.operation_name not in _NOT_THE_TABLE:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "?"
            said += f" (the table {table!r} in {region}: is the stage deployed there, is --table right?)"
        return said
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: log in (e.g. aws sso login, AWS_PROFILE=...) or use --local for make run"
    return f"AWS could not be reached: {error}"


def _target(ctx: click.Context, command: str) -> Target:
    """The :class:`staff.config.Target` of the root's options; a usage error when none is given
    (unless ``command`` is in :data:`TABLELESS`)."""
    options = ctx.find_root().obj or {}
    try:
        return resolve(options.get("stage"), options.get("local", False), options.get("table"))
    except ConfigError as error:
        if command not in TABLELESS:
            raise click.UsageError(str(error), ctx) from None
        return Target(description="no table")  # a local export folder needs no AWS


def _error_table() -> list[tuple[tuple[type[Exception], ...], str, int]]:
    """``(error types, stderr line, exit code)`` in the order they are tried: the one mapping of the errors
    operations raise to what a command shows (README, "Staff tools"). ``{error}`` is ``str(error)``,
    ``{where}`` the table's description, ``{aws}`` the AWS error explained, ``{file}`` an ``OSError`` as
    ``<path>: <reason>``."""
    from chalicelib import store
    from chalicelib.events import EventFileError
    from staff.exportfiles import ExportFormatError, ExportNotFound
    from staff.exporting import EventNotInExport
    from staff.sql import QueryError

    return [
        ((NothingToDo,), "Nothing to do: {error}.", EXIT_NOT_FOUND),
        ((store.EventNotFound,), "Error: no event {error} in {where}", EXIT_NOT_FOUND),
        ((EventNotInExport,), "Error: no event {error} in the export", EXIT_NOT_FOUND),
        ((store.RegistrationNotFound,), "Error: no registration {error} for this event", EXIT_NOT_FOUND),
        ((ExportNotFound,), "Error: {error}", EXIT_NOT_FOUND),
        ((EventFileError, ExportFormatError, QueryError, ValueError), "Error: {error}", EXIT_USAGE),
        ((ClientError, BotoCoreError), "Error: {aws}", EXIT_AWS),
        # a file or folder that cannot be read or written after all (-o is checked when parsed:
        # OutputFile): full disk, permissions changed meanwhile, an unreadable file in an export folder
        ((OSError,), "Error: {file}", EXIT_USAGE),
    ]


def _file_message(error: Exception) -> str:
    """An ``OSError`` as ``<path>: <reason>`` (``No such file or directory``), without the ``[Errno n]``."""
    if not isinstance(error, OSError):
        return ""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename is not None else reason


def _failure(error: Exception, target: Target) -> tuple[str, int] | None:
    """The stderr line and exit code for ``error``, or ``None`` for an error no operation means to raise (a bug)."""
    for types, line, code in _error_table():
        if isinstance(error, types):
            unreachable = isinstance(error, (CannotConnect, ConnectionClosedError)) and target.unreachable()
            aws = (unreachable or _aws_message(error)) if code == EXIT_AWS else ""
            return line.format(error=error, where=target.description, aws=aws, file=_file_message(error)), code
    return None


def aws_command(function: Callable[..., Any]) -> Callable[..., Any]:
    """Point boto3 at the chosen table, run ``function``, and map errors to the documented exit codes.

    ``function`` returns an exit code (``None`` is 0). Errors it raises become one line on stderr
    (:func:`_failure`); a reader of stdout that went away stops it quietly (:func:`reader_gone`). The
    environment is restored when the command's context closes.
    """

    @functools.wraps(function)
    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        target = _target(ctx, function.__name__)
        applied = Applied(target)
        ctx.call_on_close(applied.restore)
        try:
            code = ctx.invoke(function, *args, **kwargs)
        except BrokenPipeError:
            code = reader_gone()
        except Exception as error:
            failure = _failure(error, target)
            if failure is None:
                raise
            message, code = failure
            click.echo(message, err=True)
        ctx.exit(code or EXIT_OK)

    return wrapper


def reader_gone() -> int:
    """What a command does when the reader of its stdout went away (``BrokenPipeError``: ``... -o - | head -2``):
    say nothing, and point stdout at ``os.devnull`` so the interpreter's last flush of what is still buffered
    cannot fail again at exit (the Python docs' note on SIGPIPE, in the ``signal`` module). Returns
    :data:`staff.EXIT_BROKEN_PIPE` (141, 128 + SIGPIPE, as a shell reports for tools that SIGPIPE stopped;
    README, "Staff tools")."""
    with contextlib.suppress(OSError, ValueError):  # a stdout without a file descriptor (tests) has nothing to flush
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


class DashArguments(click.Command):
    """A command whose arguments may start with ``-``: registration ids do about 1 time in 64
    (``secrets.token_urlsafe``), and so may event ids (``[a-z0-9-]``).

    Click reads ``-Ms9cA7zDP62UysOYihc-g`` as a cluster of short options, and one that holds an ``h``
    as ``-h``: it printed the help and exited 0 without cancelling. Here every token that is not one
    of the command's own options (``--yes``, ``-h``/``--help``, with its value if it takes one) is
    moved behind ``--``, so it is always an argument; a mistyped option is then an unexpected
    argument (exit 2), never a silent success.
    """

    def _option_arity(self, ctx: click.Context) -> dict[str, bool]:
        """``{option name: takes a value}`` for every name of the command's options."""
        takes_value: dict[str, bool] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    takes_value[name] = not (param.is_flag or param.count)
        return takes_value

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Click's parsing of ``[own options..., "--", every other arg...]``."""
        takes_value = self._option_arity(ctx)
        options: list[str] = []
        positional: list[str] = []
        args_left = iter(args)
        for arg in args_left:
            if arg == "--":
                positional.extend(args_left)
                break
            name = arg.split("=", 1)[0] if arg.startswith("--") else arg
            if name not in takes_value:
                positional.append(arg)
                continue
            options.append(arg)
            if takes_value[name] and "=" not in arg:
                options.extend(itertools.islice(args_left, 1))
        return super().parse_args(ctx, [*options, "--", *positional])


def staff_command(*words: str) -> str:
    """The staff tools' command line with ``words``, as the command running now was given: its
    interpreter (relative to the current folder when inside it, e.g. ``.venv/bin/python``), for
    ``--local`` the ``PORT``/``AWS_PORT`` it was run with, and its ``--local``/``--stage``/``--table``.
    A hint that works pasted as printed."""
    context = click.get_current_context(silent=True)
    options = (context.find_root().obj or {}) if context else {}
    ports = [f"{name}={os.environ[name]}" for name in ("PORT", "AWS_PORT")
             if options.get("local") and os.environ.get(name)]
    given = [*(["--local"] if options.get("local") else []),
             *(["--stage", str(options["stage"])] if options.get("stage") else []),
             *(["--table", str(options["table"])] if options.get("table") else [])]
    interpreter = os.path.abspath(sys.executable)  # not resolve(): a venv's python is a symlink
    with contextlib.suppress(ValueError):
        interpreter = str(Path(interpreter).relative_to(os.getcwd()))
    return " ".join([*ports, *(shlex.quote(word) for word in [interpreter, "-m", "staff", *given, *words])])


def id_from_export(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A registration id argument: the leading ``'`` an id copied from a CSV export keeps is dropped."""
    return value.removeprefix("'")


def address_from_export(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """An address argument as an export shows it: the ``'`` the export put before one that starts like a
    formula (``'=cmd@example.org``, README "Staff tools") is dropped; any other ``'`` is the address's own."""
    from staff.writers import FORMULA_QUOTE, FORMULA_START

    value = value.strip()  # a cell copied with the space or tab beside it
    if value.startswith(FORMULA_QUOTE) and value[1:2] in FORMULA_START:
        return value[1:]
    return value


def output_format(fmt: str | None, output: str, allowed: tuple[str, ...], delimiter: str = ",") -> str:
    """``--format``, else the ``-o`` file's extension if it is one of ``allowed``, else ``csv`` for stdout.

    Checked before any registration is read. Raises ``click.UsageError`` (exit 2) when the file name
    does not tell, when its extension names another of ``allowed`` than ``--format`` (an XLSX file
    called ``list.csv`` opens as garbage), for XLSX to stdout, and for a ``--delimiter`` other than
    ``,`` with a format that has none (XLSX, JSON): it would be ignored.
    """
    named = Path(output).suffix.lower().lstrip(".") if output != "-" else ""
    if fmt and named in allowed and named != fmt:
        raise click.UsageError(f"--format {fmt} would write {fmt.upper()} into {output!r}, a .{named} name; "
                               f"name the file .{fmt}, or leave --format out")
    chosen = fmt or _format_from_name(output, allowed)
    if chosen == "xlsx" and output == "-":
        raise click.UsageError("XLSX cannot be written to stdout; give a file name with -o")
    if chosen != "csv" and delimiter != ",":
        raise click.UsageError(f"--delimiter {delimiter!r} is for CSV files; {chosen} has no delimiter")
    return chosen


def _format_from_name(output: str, allowed: tuple[str, ...]) -> str:
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix in allowed:
        return suffix
    if output == "-":
        return "csv"
    raise click.UsageError(f"say --format {'|'.join(allowed)} (cannot tell from the file name {output!r})")


class OutputFile(click.Path):
    """``-o FILE``: a file the command can write, or ``-`` for stdout; a ``str``.

    Checked when the command line is parsed, before any registration is read: besides what
    ``click.Path`` refuses (an existing folder, an existing file that is not writable), an existing
    file must be a regular file (not a device, pipe or socket, which the writers' rename would
    replace) without its write permission taken away (root ignores it); the file's folder must
    exist, be a folder and be writable. A symbolic link is followed: the file it points to is
    written (``staff.writers``), the link stays. A refusal is ``click.BadParameter``: one
    ``Error: Invalid value for '-o' / '--output': ...`` line naming the path and the reason, exit 2
    (README, "Staff tools").
    """

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, allow_dash=True, path_type=str)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        if path == "-":
            return path
        real = os.path.realpath(path)
        if os.path.exists(real):
            mode = os.stat(real).st_mode
            if not stat.S_ISREG(mode):
                self.fail(f"cannot write {path!r}: it is not a regular file (a device, pipe or socket); "
                          "give a file name, or - for stdout", param, ctx)
            if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
                self.fail(f"cannot write {path!r}: the file is read-only", param, ctx)
        folder = os.path.dirname(real)
        if not os.path.exists(folder):
            self.fail(f"cannot write {path!r}: the folder {folder!r} does not exist", param, ctx)
        if not os.path.isdir(folder):
            self.fail(f"cannot write {path!r}: {folder!r} is not a folder", param, ctx)
        if not os.access(folder, os.W_OK | os.X_OK):
            self.fail(f"cannot write {path!r}: the folder {folder!r} is not writable", param, ctx)
        return path


#: S3's rules for a general purpose bucket's name (Amazon S3 User Guide, "General purpose bucket naming
#: rules"): 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
#: Prefixes and suffixes S3 reserves (same rules): access points, Object Lambda, directory buckets, ...
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--bucket``'s callback: ``None`` (the default bucket) or a name S3 allows (:data:`_BUCKET_NAME`,
    no two dots in a row, not an IP address). Raises ``click.BadParameter`` (exit 2) naming the rule, before
    any AWS call (S3 would refuse it, exit 3 as if AWS had failed)."""
    if value is None:
        return value
    if not _BUCKET_NAME.fullmatch(value) or ".." in value or _IP_ADDRESS.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit")
    reserved = [p for p in _RESERVED_PREFIXES if value.startswith(p)] + [
        s for s in _RESERVED_SUFFIXES if value.endswith(s)]
    if reserved:
        raise click.BadParameter(f"{value!r} is not an S3 bucket name: S3 reserves names with {reserved[0]!r}")
    return value


def prefix_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--prefix``'s callback: ``None`` (the default prefix) or a key prefix of folder names, without
    ``.``/``..`` or empty segments or control characters. S3 keys are literal (``../x`` is no parent
    folder, and ``exports list``/``convert`` of such a key surprise everyone); ``click.BadParameter`` (exit 2)."""
    if value is None:
        return value
    segments = value.strip("/").split("/")
    if (not value.strip("/") or any(part in ("", ".", "..") for part in segments)
            or any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value.encode()) > 512):
        raise click.BadParameter(f"{value!r} is not a key prefix: folder names separated by /, "
                                 "without . or .. or empty names (e.g. exports/registrations-prod)")
    return value


def delimiter_option(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``--delimiter``'s callback, run when the command line is parsed (before any work): one character a CSV
    file can separate cells with (``staff.writers.check_delimiter``), or ``tab``/``\\t``. Raises
    ``click.BadParameter`` with the reason."""
    from staff.writers import check_delimiter

    try:
        return check_delimiter("\t" if value in ("\\t", "tab") else value)
    except ValueError as refused:
        raise click.BadParameter(str(refused)) from None


def progress_bytes(total: int, label: str) -> Any:
    """A progress bar over ``total`` bytes on stderr (click hides it when stderr is not a terminal)."""
    return click.progressbar(length=max(total, 1), label=label, file=sys.stderr, width=32)


def counted(items: Iterable[Any], label: str, length: int | None = None) -> Iterable[Any]:
    """``items``, showing how many have passed (of ``length``, if known) on stderr if it is a terminal."""
    if not sys.stderr.isatty():
        return items
    return _with_bar(items, label, length)


def _with_bar(items: Iterable[Any], label: str, length: int | None) -> Iterator[Any]:
    with click.progressbar(items, length=length, label=label, file=sys.stderr, show_pos=True, width=24) as bar:
        yield from bar
