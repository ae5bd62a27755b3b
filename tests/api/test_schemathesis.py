"""Fuzzing the running service from its own OpenAPI document with Schemathesis.

Every documented operation, every check (``--checks all``): no 5xx, status codes,
content types, headers and bodies as documented, invalid input refused, unknown
methods answered 405. Bounded (``--max-examples``, a fixed ``--seed``) so it takes
about a minute; ``SCHEMATHESIS_MAX_EXAMPLES`` and ``SCHEMATHESIS_SEED`` override.
Settings and the one widened rule are in tests/api/schemathesis.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import CLOSED_EVENT_YAML, start_service

pytestmark = pytest.mark.xdist_group("schemathesis")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory):
    """A local service of its own (the fuzzer registers many people), with a closed event too."""
    service = start_service(
        tmp_path_factory.mktemp("live-fuzz"),
        extra_events={"closed-workshop.yaml": CLOSED_EVENT_YAML},
        env={"MIN_FILL_SECONDS": "3"},
    )
    yield service
    service.stop()


def test_schemathesis_finds_no_failure(fuzz_service, tmp_path):
    cli = Path(sys.executable).parent / "schemathesis"
    if not cli.exists():
        pytest.skip("schemathesis is not installed (pip install -r requirements-dev.txt)")
    command = [
        str(cli), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{fuzz_service.url}/openapi.json",
        "--url", fuzz_service.url,
        "--checks", "all",
        "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"),
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "2"),
        "--workers", "1",
        "--request-timeout", "20",
        "--no-shrink",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NO_COLOR": "1"}, check=False)
    output = run.stdout + run.stderr
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    assert run.returncode == 0, (
        f"schemathesis failed:\n{output[-20000:]}\n--- service log ---\n{fuzz_service.log()[-5000:]}"
    )
    assert "Tested:" in summary
    print(summary)
