"""``python -m staff``: the staff command line (see :mod:`staff.cli`)."""

from staff.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
