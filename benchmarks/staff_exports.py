"""Staff exports: ``exports convert`` against a bare pass of gunzip plus ``json.loads``, side by side.

README, "Staff tools" (export speed). Usage, from the repository root::

    .venv/bin/python benchmarks/staff_exports.py                 # 50,000 registrations, 5 rounds
    .venv/bin/python benchmarks/staff_exports.py --rows 5000 --rounds 3
    .venv/bin/python benchmarks/staff_exports.py --compare /tmp/old-checkout   # also an older checkout

It writes one DynamoDB export in AWS's layout (``manifest-summary.json``, ``manifest-files.json``,
two gzip data files; per registration one registration item and one address guard, as in the
table; the generator of ``tests/staff/test_memory.py``), then runs, in each round and in turn:

- the *bare pass* of issue 11: every line of every data file through ``gzip`` and ``json.loads``,
  nothing else; and the same with msgspec's generic decoder (``msgspec.json.Decoder().decode``),
  the JSON library ``exports convert`` reads lines with, for a yardstick of the same parser;
- ``python -m staff exports convert EXPORT --event ID -o FILE`` to CSV and to XLSX.

Each run is a fresh process. The time measured is that of the work only: the bare loop, and the
``main([...])`` call of the staff command line after its modules are imported (import time is a
cold-start matter, not the conversion's). Peak resident memory is what GNU ``/usr/bin/time -f %M``
reports for the process, the figure ``tests/staff/test_memory.py`` checks against 150 MB.

Printed: medians over the rounds of seconds, registrations per second, the ratio of a bare
pass's time to the command's (1.0 = as fast as that bare pass; issue 11 asks CSV >= 0.5 of the
``json.loads`` pass), in wall-clock time and in CPU time of the process, and peak RSS. Rows per
second count registrations (the export holds about twice as many items). Timings vary with the
machine's load; the ratios, measured in the same rounds, vary much less, and those of CPU time
least (each run is one thread; on a busy machine its wall time also counts waiting for a core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = r"""
import gzip, json, sys, time
loads = json.loads
if sys.argv[1] == "msgspec":
    import msgspec
    loads = msgspec.json.Decoder().decode
files = sys.argv[2:]
started, cpu = time.perf_counter(), time.process_time()
for name in files:
    with gzip.open(name, "rb") as handle:
        for line in handle:
            loads(line)
print(time.perf_counter() - started, time.process_time() - cpu)
"""

CONVERT = r"""
import sys, time
from staff.cli import main
# imported up front
import chalicelib.store, staff.exportfiles, staff.exporting, staff.writers, staff.columns, xlsxwriter
started, cpu = time.perf_counter(), time.process_time()
code = main(sys.argv[1:])
assert code == 0, code
print(time.perf_counter() - started, time.process_time() - cpu)
"""
TIME = "/usr/bin/time"  # GNU time: -f %M prints the process's peak resident memory in KB


def _run(code: str, args: list[str], root: Path) -> tuple[float, float, float]:
    """Run ``code`` in a fresh Python with ``root`` first on the path, under GNU time.

    Returns (seconds, CPU seconds, peak RSS MB).
    """
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("STAFF_STAGE", None)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as peak:
        answer = subprocess.run([TIME, "-f", "%M", "-o", peak.name, sys.executable, "-c", code, *args],
                                cwd=root, env=env, capture_output=True, text=True, check=False)
        if answer.returncode != 0:
            raise SystemExit(f"failed ({root}): {answer.stderr.strip()}")
        peak_kb = int(peak.read().split()[-1])
    seconds, cpu = answer.stdout.split()[-2:]
    return float(seconds), float(cpu), peak_kb / 1024


def main() -> None:
    """Write the export, run the rounds, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="registrations in the export (default 50,000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are printed (default 5)")
    parser.add_argument("--formats", default="csv,xlsx", help="comma-separated: csv, xlsx, jsonl (default csv,xlsx)")
    parser.add_argument("--compare", action="append", default=[], metavar="DIR",
                        help="another checkout of this repository to run side by side (e.g. the code before a change)")
    options = parser.parse_args()

    from tests.staff.conftest import CASES_EVENT, write_aws_export
    from tests.staff.test_memory import raw_items

    roots = {"this checkout": ROOT, **{str(Path(d)): Path(d).resolve() for d in options.compare}}
    formats = [f.strip() for f in options.formats.split(",") if f.strip()]
    with tempfile.TemporaryDirectory(prefix="staff-bench-") as work:
        folder = write_aws_export(Path(work) / "export", raw_items(options.rows), files=2)
        data_files = sorted(str(p) for p in (folder / "data").glob("*.gz"))
        size = sum(Path(p).stat().st_size for p in data_files) / 2**20
        print(f"export: {options.rows:,} registrations, {2 * options.rows + 1:,} items, {size:.1f} MB gzip in 2 files",
              file=sys.stderr)
        timings: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for number in range(options.rounds):
            timings.setdefault(("bare pass", "gunzip + json.loads"), []).append(_run(BARE, ["json", *data_files], ROOT))
            timings.setdefault(("bare pass", "gunzip + msgspec"), []).append(_run(BARE, ["msgspec", *data_files], ROOT))
            for label, root in roots.items():
                for fmt in formats:
                    out = Path(work) / f"out.{fmt}"
                    args = [
                        "exports",
                        "convert",
                        str(folder),
                        "--event",
                        CASES_EVENT["id"],
                        "--format",
                        fmt,
                        "-o",
                        str(out),
                    ]
                    timings.setdefault((label, fmt), []).append(_run(CONVERT, args, root))
            print(f"round {number + 1}/{options.rounds} done", file=sys.stderr)

    def median(key: tuple[str, str], index: int) -> float:
        return statistics.median(run[index] for run in timings[key])

    json_pass, msgspec_pass = ("bare pass", "gunzip + json.loads"), ("bare pass", "gunzip + msgspec")
    print(f"{'code':<22} {'output':<20} {'seconds':>7} {'rows/s':>7} {'vs json':>7} {'vs json, CPU':>12} "
          f"{'vs msgspec, CPU':>15} {'peak RSS':>9}")
    for key in timings:
        seconds, cpu, rss = median(key, 0), median(key, 1), median(key, 2)
        print(f"{key[0]:<22} {key[1]:<20} {seconds:>7.2f} {options.rows / seconds:>7,.0f} "
              f"{median(json_pass, 0) / seconds:>7.2f} {median(json_pass, 1) / cpu:>12.2f} "
              f"{median(msgspec_pass, 1) / cpu:>15.2f} {rss:>6.1f} MB")


if __name__ == "__main__":
    main()
