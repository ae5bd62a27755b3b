"""Fixtures for the infrastructure tests: the synthesised stack templates.

Synthesis runs the Chalice packager and the CDK (which needs Node.js), about
5-10 s a stage, in a subprocess, once per stage and test session.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

INFRA_DIR = Path(__file__).resolve().parents[2] / "infrastructure"
# Appended, not prepended: nothing here may shadow the app's own modules.
if str(INFRA_DIR) not in sys.path:
    sys.path.append(str(INFRA_DIR))

NODE_MISSING = (
    "Node.js is not installed: CDK synthesis (jsii) needs `node` on PATH. "
    "Install it (Debian: apt-get install nodejs); .ci/run installs it in CI."
)


class Synthesised:
    """A synthesised stack: its template, where it was written, and look-ups."""

    def __init__(self, stage: str, template_path: Path):
        from stage_settings import load_settings

        self.stage = stage
        self.settings = load_settings(stage, environ={})
        self.template_path = template_path
        self.template = json.loads(template_path.read_text())
        self.resources = self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict]:
        """Resources of one CloudFormation type, by logical id."""
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict]:
        """The only resource of ``resource_type`` (logical id, resource)."""
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def id_of(self, resource_type: str) -> str:
        """Logical id of the only resource of ``resource_type``."""
        return self.one(resource_type)[0]


# Deployment overrides (read by stage_settings) must not leak from the app's
# tests or the developer's shell into the templates asserted on here.
_OVERRIDES = ("SENDER_EMAIL", "ALLOWED_ORIGINS", "PUBLIC_BASE_URL", "ALARM_EMAIL", "AWS_REGION",
              "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "STAGE")


@contextlib.contextmanager
def _synthesis_lock():
    """One synthesis at a time across pytest-xdist workers.

    Chalice keeps its package cache in the repo (.chalice/deployments);
    two workers packaging at once could write the same zip.
    """
    path = Path(tempfile.gettempdir()) / "event-registration-cdk-synth.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


STAGES = ("prod", "dev")
#: The dev stack is synthesised with an alarm address, prod without one
#: (synthesis must work without; only make deploy insists on it).
DEV_ALARM_EMAIL = "alarms@example.org"
_SYNTH_BOTH = """
import os, sys
sys.path.append(sys.argv[1])
from stacks.registration import build_app
for stage in sys.argv[3:]:
    environ = {**os.environ, "ALARM_EMAIL": "%s"} if stage == "dev" else os.environ
    app, stack = build_app(stage, outdir=f"{sys.argv[2]}/{stage}", environ=environ)
    app.synth()
""" % DEV_ALARM_EMAIL  # noqa: UP031 - a template of Python code: its braces are code, not fields


def _shared_dir(tmp_path_factory) -> Path:
    """A directory all pytest-xdist workers of this run share."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "cdk-synth"


@pytest.fixture(scope="session")
def synthesised_templates(tmp_path_factory) -> dict[str, Path]:
    """Template path of each stage, synthesised once per test run.

    One subprocess synthesises every stage (one Node/jsii start-up); the
    first xdist worker to get here does it and the others reuse the result.
    """
    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail(NODE_MISSING + " CI must not skip these tests.")
        pytest.skip(NODE_MISSING)
    outdir = _shared_dir(tmp_path_factory)
    templates = {stage: outdir / stage / f"{stage}.template.json" for stage in STAGES}
    with _synthesis_lock():
        done = outdir / "done"
        if not done.exists():
            env = {k: v for k, v in os.environ.items() if k not in _OVERRIDES}
            # The machine's Node may be past jsii's support window; the
            # warning is noise in test output (synthesis still works).
            env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
            # A separate process: Chalice imports the app to package it, and
            # the app's tests must not share that import (its clock starts
            # at import).
            completed = subprocess.run(
                [sys.executable, "-c", _SYNTH_BOTH, str(INFRA_DIR), str(outdir), *STAGES],
                env=env, capture_output=True, text=True, check=False, timeout=900,
            )
            assert completed.returncode == 0, (
                f"synthesis failed:\n{completed.stdout}{completed.stderr}"
            )
            done.write_text("ok")
    return templates


@pytest.fixture(scope="session")
def prod(synthesised_templates) -> Synthesised:
    """The synthesised prod stack."""
    return Synthesised("prod", synthesised_templates["prod"])


@pytest.fixture(scope="session")
def dev(synthesised_templates) -> Synthesised:
    """The synthesised dev stack."""
    return Synthesised("dev", synthesised_templates["dev"])


def pytest_collection_modifyitems(config, items):
    """Keep the infrastructure tests on one xdist worker (``--dist loadgroup``).

    The synthesis is shared, and the other worker stays free for the app's
    timing-sensitive tests.
    """
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("infrastructure"))
