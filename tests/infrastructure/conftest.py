"""Fixtures for the infrastructure tests: the synthesised stack templates.

Synthesis runs the Chalice packager and the CDK (which needs Node.js), about
5-10 s a stage, so each stage is synthesised once per test session.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
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
    """A synthesised stack: its template and where it was written."""

    def __init__(self, stack, template_path: Path):
        self.stack = stack
        self.settings = stack.settings
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


def _synthesise(stage: str, outdir: Path) -> Synthesised:
    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail(NODE_MISSING + " CI must not skip these tests.")
        pytest.skip(NODE_MISSING)
    # The machine's Node may be past jsii's support window; the warning is
    # noise in test output (synthesis still works).
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from stacks.registration import build_app

    # environ={}: deployment overrides (SENDER_EMAIL, ...) set for the app's
    # own tests must not change the templates asserted on here.
    with _synthesis_lock():
        app, stack = build_app(stage, outdir=str(outdir), environ={})
        assembly = app.synth()
    return Synthesised(stack, Path(assembly.directory) / stack.template_file)


@pytest.fixture(scope="session")
def prod(tmp_path_factory) -> Synthesised:
    """The synthesised prod stack."""
    return _synthesise("prod", tmp_path_factory.mktemp("cdk-prod"))


@pytest.fixture(scope="session")
def dev(tmp_path_factory) -> Synthesised:
    """The synthesised dev stack."""
    return _synthesise("dev", tmp_path_factory.mktemp("cdk-dev"))
