"""The Makefile's own logic, run with a stand-in for the project's Python (no installs, no real tests).

- ``make test`` runs the app's tests and the infrastructure tests, both always, then both summaries,
  failing at the end if either failed (issue 14);
- the CDK's Node end-of-life banner is silenced for the Node in use (README, "Deploying").
"""

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

FAKE_PYTEST = """#!/bin/sh
case "$*" in
  *--ignore=tests/infrastructure*) echo "app output"; echo "$APP_SUMMARY"; exit $APP_CODE;;
  *tests/infrastructure*) echo "infrastructure output"; echo "$INFRA_SUMMARY"; exit $INFRA_CODE;;
esac
exit 99
"""


def _run_suites(tmp_path, app_code: int, infra_code: int):
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTEST)
    fake.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin", "APP_CODE": str(app_code), "INFRA_CODE": str(infra_code),
        "APP_SUMMARY": "1 failed, 9 passed in 1.00s" if app_code else "10 passed in 1.00s",
        "INFRA_SUMMARY": "2 failed, 3 passed in 2.00s" if infra_code else "5 passed in 2.00s",
    }
    return subprocess.run(["make", "--no-print-directory", "-s", "test-suites", f"PY={fake}",
                           f"TEST_LOGS={tmp_path / 'logs'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("app_code, infra_code", [(1, 0), (0, 1), (1, 1), (0, 0)])
def test_make_test_runs_both_suites_and_ends_with_both_summaries(tmp_path, app_code, infra_code):
    run = _run_suites(tmp_path, app_code, infra_code)
    out = run.stdout
    assert "app output" in out and "infrastructure output" in out  # the second ran whatever the first did
    summary = out[out.index("make test:"):].splitlines()
    app_summary = "1 failed, 9 passed in 1.00s" if app_code else "10 passed in 1.00s"
    infra_summary = "2 failed, 3 passed in 2.00s" if infra_code else "5 passed in 2.00s"
    assert summary[1] == f"  app tests:            {app_summary}  (exit {app_code}; {tmp_path}/logs/pytest-app.log)"
    assert summary[2] == (f"  infrastructure tests: {infra_summary}  (exit {infra_code}; "
                          f"{tmp_path}/logs/pytest-infra.log)")
    if app_code or infra_code:
        assert run.returncode != 0 and summary[3] == "  FAILED"
    else:
        assert run.returncode == 0 and summary[3] == "  all passed"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_node_end_of_life_banner_is_silenced_for_the_node_in_use():
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True,
                           check=True).stdout.strip()
    printed = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "-", "-f", "Makefile", "show-jsii"],
        input="show-jsii:\n\t@echo \"[$$JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION]\"\n",
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}, check=False,
    )
    assert printed.stdout.strip() == f"[{major}]"
