#!/usr/bin/env python3
"""Run ``chalice package`` for a stage and fail on unresolved dependencies.

``chalice package`` only *warns* ("Could not install dependencies: ...") when
it cannot find a Lambda-compatible (manylinux) wheel for a requirement, and
then ships a zip that fails at import time in Lambda.  This turns that
warning into a failure, then trims and compiles the zip as the stack does
(``lambda_package.rebuild``) and reports its size.

The app is copied to a temporary directory first so that Chalice's package
cache (``.chalice/deployments``) cannot hide the warning on a second run.

    python infrastructure/package_check.py --stage prod [--out /tmp/x]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

import lambda_package
from stage_settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
#: What Chalice puts in the deployment package besides the requirements.
APP_PATHS = ("app.py", "chalicelib", "vendor", "requirements.txt", ".chalice")
MISSING_DEPENDENCIES = "Could not install dependencies"
#: AWS Lambda limits for a zip deployment package.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


@dataclass
class PackageReport:
    """What ``chalice package`` produced."""

    returncode: int
    output: str
    zip_path: Path
    zip_bytes: int = 0
    unzipped_bytes: int = 0
    #: What trimming and compiling did (None when packaging failed).
    rebuilt: lambda_package.RebuildReport | None = None

    @property
    def problems(self) -> list[str]:
        """Reasons to fail the build; empty when the package is usable."""
        found = []
        if self.returncode != 0:
            found.append(f"chalice package exited with {self.returncode}")
        found.extend(find_missing_dependencies(self.output))
        if self.returncode == 0 and not self.zip_path.exists():
            found.append(f"no deployment package at {self.zip_path}")
        if self.zip_bytes > MAX_ZIPPED_BYTES:
            found.append(f"zip is {self.zip_bytes} bytes, over Lambda's {MAX_ZIPPED_BYTES}")
        if self.unzipped_bytes > MAX_UNZIPPED_BYTES:
            found.append(
                f"unzipped size {self.unzipped_bytes} bytes is over Lambda's {MAX_UNZIPPED_BYTES}"
            )
        return found


def find_missing_dependencies(output: str) -> list[str]:
    """The "Could not install dependencies" blocks in chalice's output."""
    problems = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if MISSING_DEPENDENCIES in line:
            names = []
            for following in lines[i + 1:]:
                if not following.strip() or following.startswith("You will have to"):
                    break
                names.append(following.strip())
            problems.append(
                f"{MISSING_DEPENDENCIES}: {', '.join(names) or '(see output)'} "
                "(no Lambda-compatible wheel: pin a version with a manylinux wheel, "
                "or vendor it in vendor/)"
            )
    return problems


def copy_app(source: Path, destination: Path) -> None:
    """Copy what Chalice packages (not its caches) to ``destination``."""
    for name in APP_PATHS:
        path = source / name
        if path.is_dir():
            shutil.copytree(
                path,
                destination / name,
                ignore=shutil.ignore_patterns("deployments", "venv", "__pycache__", "*.pyc"),
            )
        elif path.exists():
            shutil.copy2(path, destination / name)


def package(stage: str, out_dir: Path, source: Path = REPO_ROOT) -> PackageReport:
    """Run ``chalice package --stage STAGE OUT_DIR`` on a clean copy of the app."""
    settings = load_settings(stage, environ={})
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", settings.region)
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice) if chalice.exists() else "chalice", "package", "--stage", stage,
               str(out_dir)]
    with tempfile.TemporaryDirectory(prefix="chalice-package-") as tmp:
        copy_app(source, Path(tmp))
        completed = subprocess.run(
            command, cwd=tmp, env=env, capture_output=True, text=True, check=False
        )
    report = PackageReport(
        returncode=completed.returncode,
        output=completed.stdout + completed.stderr,
        zip_path=out_dir / "deployment.zip",
    )
    if report.zip_path.exists() and not report.problems:
        runtime = lambda_package.functions_runtime(out_dir / "sam.json")
        report.rebuilt = lambda_package.rebuild(report.zip_path, runtime)
    if report.zip_path.exists():
        report.zip_bytes = report.zip_path.stat().st_size
        with zipfile.ZipFile(report.zip_path) as archive:
            report.unzipped_bytes = sum(info.file_size for info in archive.infolist())
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path, help="output directory (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.out is None:
        with tempfile.TemporaryDirectory(prefix="chalice-package-out-") as tmp:
            return _check(args.stage, Path(tmp) / "package")
    if args.out.exists():
        shutil.rmtree(args.out)
    return _check(args.stage, args.out)


def _check(stage: str, out: Path) -> int:
    report = package(stage, out)
    sys.stdout.write(report.output)
    if report.problems:
        for problem in report.problems:
            print(f"package check FAILED: {problem}", file=sys.stderr)
        return 1
    if report.rebuilt:
        print(report.rebuilt.summary())
    print(
        f"package check OK: {report.zip_path} is {report.zip_bytes / 1e6:.1f} MB "
        f"({report.unzipped_bytes / 1e6:.1f} MB unzipped)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
