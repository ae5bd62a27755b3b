"""Staff tools: ``python -m staff ...`` (README, "Staff tools").

A command line for the organisers' staff, run with their own AWS credentials:
events (put, list, show), registrations (list, export, cancel, erase, set-email,
resend, simulate) and DynamoDB exports (start, list, convert, query in SQL). Nothing
here is packaged into the Lambda zip; its extra dependencies are in ``requirements-staff.txt``.
The command line (:mod:`staff.cli`, :mod:`staff.commands`) parses and prints; the work is in
:mod:`staff.operations`, :mod:`staff.publish`, :mod:`staff.changes`, :mod:`staff.exportjobs` and the
export readers.

Exit codes every command keeps (scripts may rely on them):

==  ==========================================================
0   done
1   not found, or nothing to do (unknown event, registration or address; nothing changed)
2   usage or validation error (bad option, invalid event file, bad SQL, a file that cannot be written or read)
3   AWS error (credentials, permissions, throttling, endpoint unreachable, export failed)
141 the reader of stdout went away (``... -o - | head -2``): stopped quietly, as other command-line
    tools do (128 + SIGPIPE, 13)
==  ==========================================================
"""

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_AWS = 3
EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE: what a shell reports for a tool that SIGPIPE stopped


class NothingToDo(Exception):
    """A staff operation that would change nothing: exit 1, ``Nothing to do: <str(error)>.`` on stderr.

    ``str(error)`` is the reason as one clause without the final full stop, e.g.
    ``registration X is cancelled``. Raised by :mod:`staff.operations`, :mod:`staff.changes` and
    :mod:`staff.exportjobs`; printed once, by ``staff.commands.running.aws_command``.
    """
