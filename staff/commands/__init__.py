"""The staff command groups, one module per group; ``staff.cli`` adds them to ``python -m staff``.

- :mod:`staff.commands.events`: ``events put``, ``list``, ``show``;
- :mod:`staff.commands.registrations`: ``registrations list``, ``export``, ``cancel``, ``erase``,
  ``set-email``, ``resend``, ``simulate``;
- :mod:`staff.commands.exports`: ``exports start``, ``list``, ``convert``, ``query``;
- :mod:`staff.commands.checkin`: ``checkin-link`` and ``registrations checkin`` (check-in at the door);
- :mod:`staff.commands.running`: what every command shares: the table it points at, the one
  mapping of errors to messages and exit codes, argument parsing, progress on stderr.

A command parses its arguments, calls one operation (:mod:`staff.operations`,
:mod:`staff.changes`, :mod:`staff.exportjobs`, :mod:`staff.checkin`, or reading an export), prints the result and
returns its exit code (:mod:`staff`). No AWS call is made here.
"""
