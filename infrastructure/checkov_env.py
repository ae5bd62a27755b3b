#!/usr/bin/env python3
"""checkov in a venv of its own, and a run of it over synthesised templates.

checkov pins its own dependencies (``boto3==1.35.49``, ...), which conflict
with the app's pins, so it cannot share ``.venv``. :func:`ensure` makes
``.venv/checkov`` from ``infrastructure/checkov-requirements.txt`` (every
package pinned) the first time, and again whenever that file changes; ``make
clean`` removes it with ``.venv``.

``infrastructure/checkov.yaml`` is the configuration: the framework, no
network (``skip-download``: no Prisma Cloud look-ups), and the checks we
accept, each with its reason in a comment.  docs/deploy.md lists them.

    python infrastructure/checkov_env.py                    # make the venv, print checkov's path
    python infrastructure/checkov_env.py cdk.out/prod.template.json ...   # run checkov on templates
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent
REQUIREMENTS = INFRA_DIR / "checkov-requirements.txt"
CONFIG = INFRA_DIR / "checkov.yaml"
VENV = REPO_ROOT / ".venv" / "checkov"
STAMP = VENV / ".requirements-sha256"
CHECKOV = VENV / "bin" / "checkov"


class CheckovUnavailable(RuntimeError):
    """The checkov venv could not be made (no network, no Python venv module)."""


@contextlib.contextmanager
def _lock():
    """One installer at a time (pytest-xdist workers, parallel make)."""
    path = Path(tempfile.gettempdir()) / f"checkov-venv-{hashlib.sha256(str(VENV).encode()).hexdigest()[:12]}.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure(python: str = sys.executable) -> Path:
    """Path of the pinned ``checkov``, installing it into ``.venv/checkov`` if needed.

    Raises :class:`CheckovUnavailable` with pip's output when installing fails.
    """
    with _lock():
        if CHECKOV.exists() and STAMP.exists() and STAMP.read_text().strip() == _digest():
            return CHECKOV
        shutil.rmtree(VENV, ignore_errors=True)
        steps = [
            [python, "-m", "venv", str(VENV)],
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                shutil.rmtree(VENV, ignore_errors=True)
                raise CheckovUnavailable(
                    f"{' '.join(step)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                )
        STAMP.write_text(_digest())
        return CHECKOV


def accepted_checks(config: Path = CONFIG) -> dict[str, str]:
    """``{check id: reason}`` of the ``skip-check`` entries in checkov.yaml.

    Each entry is written ``- CKV_AWS_119  # reason``; raises ``ValueError``
    for an entry without a reason.
    """
    accepted: dict[str, str] = {}
    in_list = False
    for line in config.read_text().splitlines():
        if re.match(r"^skip-check:\s*$", line):
            in_list = True
            continue
        if in_list and re.match(r"^\S", line):
            in_list = False
        if not in_list or not line.strip() or line.strip().startswith("#"):
            continue
        match = re.match(r"^\s*-\s*(CKV2?_[A-Z0-9_]+)\s*(?:#\s*(.*))?$", line)
        if not match:
            raise ValueError(f"unexpected line in skip-check of {config}: {line!r}")
        check, reason = match.group(1), (match.group(2) or "").strip()
        if not reason:
            raise ValueError(f"{check} in {config} has no reason: write '- {check}  # why'")
        accepted[check] = reason
    return accepted


def run(
    templates: list[Path], *extra: str, checkov: Path | None = None, config: bool = True
) -> subprocess.CompletedProcess:
    """checkov over ``templates`` with checkov.yaml (``extra`` arguments appended).

    Without ``config``, only the framework and no-network options apply (no
    accepted checks): :func:`still_found` runs the accepted checks that way.
    """
    command = [str(checkov or ensure())]
    command += (["--config-file", str(CONFIG)] if config
                else ["--framework", "cloudformation", "--skip-download", "--quiet", "--compact"])
    for template in templates:
        command += ["-f", str(template)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    return subprocess.run([*command, *extra], capture_output=True, text=True, check=False, env=env)


def failed_checks(report_json: str) -> set[tuple[str, str]]:
    """``{(check id, resource)}`` failed in checkov's ``-o json`` output."""
    import json

    reports = json.loads(report_json) if report_json.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    return {
        (check["check_id"], check["resource"])
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    }


def still_found(templates: list[Path], checkov: Path | None = None) -> dict[str, set[str]]:
    """``{accepted check id: resources it fails on}``: an empty set is a stale skip."""
    accepted = accepted_checks()
    done = run(templates, "--check", ",".join(accepted), "-o", "json", checkov=checkov, config=False)
    found: dict[str, set[str]] = {check: set() for check in accepted}
    for check, resource in failed_checks(done.stdout):
        found.setdefault(check, set()).add(resource)
    return found


def main(argv: list[str] | None = None) -> int:
    """Make the venv; with template paths, run checkov on them and return its exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        checkov = ensure()
    except CheckovUnavailable as error:
        print(f"checkov: {error}", file=sys.stderr)
        return 2
    if not args:
        print(checkov)
        return 0
    done = run([Path(a) for a in args], checkov=checkov)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
