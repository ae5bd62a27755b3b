"""Staff exports: ``exports convert`` against a bare pass of gunzip plus ``json.loads``, side by side.

README, "Staff tools" (Performance of exports). Usage, from the repository root::

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
cold-start matter, not the conversion's). Peak resident memory is the process's ``VmHWM``
(Linux), the same figure ``tests/staff/test_memory.py`` checks against 150 MB.

Printed: medians over the rounds of seconds, registrations per second, the ratio of each bare
pass's time to the command's (1.0 = as fast as that bare pass; issue 11 asks CSV >= 0.5 of the
``json.loads`` pass) and peak RSS. Rows per second count registrations (the export holds about twice as many items).
Timings vary with the machine's load; the ratios, measured in the same rounds, vary much less.
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
started = time.perf_counter()
for name in files:
    with gzip.open(name, "rb") as handle:
        for line in handle:
            loads(line)
elapsed = time.perf_counter() - started
with open("/proc/self/status") as status:
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(elapsed, hwm_kb)
"""

CONVERT = r"""
import sys, time
from staff.cli import main
import chalicelib.store, staff.exportfiles, staff.exporting, staff.writers, staff.columns, xlsxwriter  # imported up front
started = time.perf_counter()
code = main(sys.argv[1:])
elapsed = time.perf_counter() - started
with open("/proc/self/status") as status:
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
assert code == 0, code
print(elapsed, hwm_kb)
"""


def _run(code: str, args: list[str], root: Path) -> tuple[float, float]:
    """Run ``code`` in a fresh Python with ``root`` first on the path; returns (seconds, peak RSS MB)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("STAFF_STAGE", None)
    answer = subprocess.run([sys.executable, "-c", code, *args], cwd=root, env=env, capture_output=True, text=True)
    if answer.returncode != 0:
        raise SystemExit(f"failed ({root}): {answer.stderr.strip()}")
    seconds, hwm_kb = answer.stdout.split()[-2:]
    return float(seconds), int(hwm_kb) / 1024


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
        timings: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for number in range(options.rounds):
            timings.setdefault(("bare pass", "gunzip + json.loads"), []).append(_run(BARE, ["json", *data_files], ROOT))
            timings.setdefault(("bare pass", "gunzip + msgspec"), []).append(_run(BARE, ["msgspec", *data_files], ROOT))
            for label, root in roots.items():
                for fmt in formats:
                    out = Path(work) / f"out.{fmt}"
                    args = ["exports", "convert", str(folder), "--event", CASES_EVENT["id"], "--format", fmt, "-o", str(out)]
                    timings.setdefault((label, fmt), []).append(_run(CONVERT, args, root))
            print(f"round {number + 1}/{options.rounds} done", file=sys.stderr)

    bare = statistics.median(t for t, _ in timings[("bare pass", "gunzip + json.loads")])
    bare_msgspec = statistics.median(t for t, _ in timings[("bare pass", "gunzip + msgspec")])
    print(f"{'code':<28} {'output':<20} {'seconds':>8} {'rows/s':>9} {'vs json':>8} {'vs msgspec':>10} {'peak RSS':>9}")
    for (label, what), runs in timings.items():
        seconds = statistics.median(t for t, _ in runs)
        rss = statistics.median(m for _, m in runs)
        print(f"{label:<28} {what:<20} {seconds:>8.2f} {options.rows / seconds:>9,.0f} {bare / seconds:>8.2f} "
              f"{bare_msgspec / seconds:>10.2f} {rss:>7.1f} MB")


if __name__ == "__main__":
    main()
