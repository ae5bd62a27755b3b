#!/usr/bin/env python3
"""Cold start, side by side: the Lambda package of a baseline git ref against the working tree.

For each side it builds the package that side deploys (its own
``infrastructure/package_check.py --stage prod``: ``chalice package`` plus,
where the side has it, the trimming and bytecode of
``infrastructure/lambda_package.py``), unzips it read-only and imports it as
Lambda does (``infrastructure/lambda_import.py``: the package, then the
runtime's boto3, then the standard library; ``-B`` so no bytecode cache is
ever written, as on Lambda's read-only ``/var/task``). Runs are interleaved
(baseline, working tree, baseline, ...) so machine load hits both alike, and
it prints medians and ratios of:

- cold import CPU (user + system, ``resource.getrusage``, from just before
  the import to just after) of ``app`` (the API function's handler module)
  and of the DeliverEmails handler module (the side's ``DELIVER_HANDLER`` in
  ``infrastructure/stacks/registration.py``, else ``app``);
- ``import app`` against its third-party imports alone: a first child lists
  every non-stdlib module ``import app`` loads from outside the app's own
  code; each run imports those first (measured), then ``app`` on top;
- the zip's size as built, and with and without bytecode (``.pyc`` added to
  or stripped from the same files), and its ``.py``/``.pyc`` counts;
- with ``--importtime``, the ten direct imports of ``app`` that take longest
  in one ``-X importtime`` run of each side (cumulative microseconds): where
  lazy imports would pay.

    .venv/bin/python benchmarks/cold_start.py                # baseline 133fc59 (main before issue 11)
    .venv/bin/python benchmarks/cold_start.py --baseline main --runs 15 --importtime

Goals (issue 11): cold import CPU <= 0.40 of the baseline's; zip <= 5 MB
without bytecode or <= 8 MB with it; ``import app`` <= 1.05 of its
third-party imports. Not a test: the figures depend on the machine, the
ratios much less. README "Performance" shows the last figures.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "infrastructure"))

import lambda_import  # noqa: E402
import lambda_package  # noqa: E402

DEFAULT_BASELINE = "133fc59"
#: The app's own code in a package: everything else ``import app`` loads is third-party or stdlib.
OWN = ("app", "chalicelib")

#: Runs in the child: measure an import's CPU and report what it loaded.
MEASURE = r'''
import json, resource, sys
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
first = json.loads(sys.argv[1])
target = sys.argv[2]
t0 = cpu()
failed = []
for name in first:
    try:
        __import__(name)
    except Exception:
        failed.append(name)
t1 = cpu()
__import__(target)
t2 = cpu()
print(json.dumps({"first": t1 - t0, "target": t2 - t1, "failed": failed}))
'''

#: Runs in the child: which modules ``import app`` loads from outside the app's code and stdlib.
DISCOVER = r'''
import json, sys
task, runtime = sys.path[0], sys.path[1]
before = set(sys.modules)
import app
found = []
for name, module in list(sys.modules.items()):
    if name in before:
        continue
    path = getattr(module, "__file__", None) or ""
    top = name.split(".")[0]
    if top in ("app", "chalicelib"):
        continue
    if path.startswith(task) or path.startswith(runtime):
        found.append(name)
print(json.dumps(found))
'''


@dataclass
class Side:
    """One package under test."""

    label: str
    tree: Path
    package_dir: Path = field(default_factory=Path)
    zip_path: Path = field(default_factory=Path)
    deliver_module: str = "app"
    third_party: list[str] = field(default_factory=list)
    app_cpu: list[float] = field(default_factory=list)
    deliver_cpu: list[float] = field(default_factory=list)
    third_party_cpu: list[float] = field(default_factory=list)
    app_over_third_party: list[float] = field(default_factory=list)


def _export_ref(ref: str, target: Path) -> Path:
    """``git archive REF`` unpacked into ``target`` (no worktree left behind)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _build(side: Side, work: Path) -> None:
    """The package the side deploys: its own package check, in its own tree."""
    out = work / f"{side.label}-package"
    done = subprocess.run(
        [sys.executable, str(side.tree / "infrastructure" / "package_check.py"), "--stage", "prod",
         "--out", str(out)],
        cwd=side.tree, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{side.label}: package check failed\n{done.stdout}{done.stderr}")
    side.zip_path = out / "deployment.zip"
    side.package_dir = work / f"{side.label}-task"
    with zipfile.ZipFile(side.zip_path) as archive:
        archive.extractall(side.package_dir)  # noqa: S202 - the package this run just built, not outside input
    for folder, _, files in os.walk(side.package_dir):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    stack = side.tree / "infrastructure" / "stacks" / "registration.py"
    match = re.search(r'^DELIVER_HANDLER\s*=\s*"([\w.]+)\.\w+"', stack.read_text(), re.M) if stack.exists() else None
    side.deliver_module = match.group(1) if match else "app"


def _child(side: Side, runtime: Path, code: str, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONDONTWRITEBYTECODE="1", AWS_DEFAULT_REGION="eu-west-1", STAGE="prod",
               POWERTOOLS_SERVICE_NAME="event-registration")
    done = subprocess.run([*lambda_import.command(side.package_dir, runtime, code, importtime=importtime), *args],
                          capture_output=True, text=True, env=env, check=False, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{side.label}: child failed\n{done.stderr[-3000:]}")
    return done


def _measure(side: Side, runtime: Path) -> None:
    app = json.loads(_child(side, runtime, MEASURE, "[]", "app").stdout)
    side.app_cpu.append(app["target"])
    deliver = json.loads(_child(side, runtime, MEASURE, "[]", side.deliver_module).stdout)
    side.deliver_cpu.append(deliver["target"])
    split = json.loads(_child(side, runtime, MEASURE, json.dumps(side.third_party), "app").stdout)
    side.third_party_cpu.append(split["first"])
    side.app_over_third_party.append((split["first"] + split["target"]) / split["first"])


def _zip_variants(zip_path: Path) -> dict[str, float]:
    """Sizes (MB) of the zip as built, without any .pyc, and with every .py compiled."""
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    py = sum(n.endswith(".py") for n in names)
    pyc = sum(n.endswith(".pyc") for n in names)
    sizes = {"as built": zip_path.stat().st_size / 1e6, "py": py, "pyc": pyc}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("without bytecode", "with bytecode"):
            copy = Path(tmp) / f"{variant}.zip"
            _rewrite(zip_path, copy, compiled=variant == "with bytecode")
            sizes[variant] = copy.stat().st_size / 1e6
    return sizes


def _rewrite(source: Path, target: Path, compiled: bool) -> None:
    """The same files, deflated at level 9, with no .pyc or with one for each .py."""
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in archive.infolist():
            if info.is_dir() or info.filename.endswith(".pyc"):
                continue
            data = archive.read(info)
            out.writestr(info.filename, data)
            if compiled and info.filename.endswith(".py"):
                with contextlib.suppress(SyntaxError, ValueError):
                    out.writestr(
                        lambda_package.pyc_name(info.filename, tag), lambda_package.compile_pyc(data, info.filename)
                    )


def _importtime_top(side: Side, runtime: Path, module: str, count: int = 10) -> list[tuple[int, str]]:
    """The ``count`` direct imports of ``module`` with the most cumulative import time (us)."""
    done = _child(side, runtime, f"import {module}", importtime=True)
    rows = []
    for line in done.stderr.splitlines():
        # "import time:      self |  cumulative | <2 spaces per level>name"
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if match and len(match.group(3)) == 3:  # depth 1: imported by module itself
            rows.append((int(match.group(2)), match.group(4)))
    return sorted(rows, reverse=True)[:count]


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}" if old else "-"


def main(argv: list[str] | None = None) -> int:
    """Build both packages, measure interleaved, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref (default %(default)s)")
    parser.add_argument("--runs", type=int, default=9, help="interleaved runs per side (default %(default)s)")
    parser.add_argument("--importtime", action="store_true", help="also show -X importtime's slowest modules")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        work = Path(tmp)
        baseline = Side(f"baseline ({args.baseline})", _export_ref(args.baseline, work / "baseline-tree"))
        current = Side("working tree", ROOT)
        sides = (baseline, current)
        runtime = lambda_import.make_runtime_dir(work / "runtime")
        for side in sides:
            print(f"building the package of the {side.label} ...", file=sys.stderr)
            _build(side, work)
            side.third_party = json.loads(_child(side, runtime, DISCOVER).stdout)
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr)
            for side in sides:
                _measure(side, runtime)
        sizes = {side.label: _zip_variants(side.zip_path) for side in sides}
        med = {side.label: {
            "app": statistics.median(side.app_cpu),
            "deliver": statistics.median(side.deliver_cpu),
            "third": statistics.median(side.third_party_cpu),
            "ratio": statistics.median(side.app_over_third_party),
        } for side in sides}
        b, c = med[baseline.label], med[current.label]
        sb, sc = sizes[baseline.label], sizes[current.label]
        print(f"\nCold start, medians of {args.runs} interleaved runs ({sys.implementation.cache_tag}, this machine)\n")
        print(f"{'':44} {baseline.label:>22} {current.label:>14} {'ratio':>7}")
        rows = [
            ("cold import CPU of app (s)", f"{b['app']:.3f}", f"{c['app']:.3f}", _ratio(c["app"], b["app"])),
            ("cold import CPU of DeliverEmails (s)", f"{b['deliver']:.3f}", f"{c['deliver']:.3f}",
             _ratio(c["deliver"], b["deliver"])),
            ("  DeliverEmails handler module", baseline.deliver_module, current.deliver_module, ""),
            ("CPU of app's third-party imports alone (s)", f"{b['third']:.3f}", f"{c['third']:.3f}",
             _ratio(c["third"], b["third"])),
            ("import app / its third-party imports", f"{b['ratio']:.2f}", f"{c['ratio']:.2f}", ""),
            ("zip as built (MB)", f"{sb['as built']:.2f}", f"{sc['as built']:.2f}",
             _ratio(sc["as built"], sb["as built"])),
            ("zip without bytecode (MB)", f"{sb['without bytecode']:.2f}", f"{sc['without bytecode']:.2f}",
             _ratio(sc["without bytecode"], sb["without bytecode"])),
            ("zip with bytecode (MB)", f"{sb['with bytecode']:.2f}", f"{sc['with bytecode']:.2f}",
             _ratio(sc["with bytecode"], sb["with bytecode"])),
            (".py / .pyc files in the zip", f"{sb['py']} / {sb['pyc']}", f"{sc['py']} / {sc['pyc']}", ""),
        ]
        for name, old, new, ratio in rows:
            print(f"{name:44} {old:>22} {new:>14} {ratio:>7}")
        if args.importtime:
            for side in sides:
                print(f"\n-X importtime, {side.label}: app's slowest direct imports (cumulative us)")
                for micros, name in _importtime_top(side, runtime, "app"):
                    print(f"  {micros:>9}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
