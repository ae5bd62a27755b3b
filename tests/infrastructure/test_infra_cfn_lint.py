"""cfn-lint must pass on every synthesised stage template."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _cfn_lint() -> str:
    candidate = Path(sys.executable).with_name("cfn-lint")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("cfn-lint")
    if not found:
        pytest.fail("cfn-lint is not installed: pip install -r infrastructure/requirements.txt")
    return found


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_cfn_lint_clean(stage, request):
    synthesised = request.getfixturevalue(stage)
    completed = subprocess.run(
        [_cfn_lint(), "--format", "parseable", str(synthesised.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, (
        f"cfn-lint found problems in the {stage} template:\n"
        f"{completed.stdout}{completed.stderr}"
    )
