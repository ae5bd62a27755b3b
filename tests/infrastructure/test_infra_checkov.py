"""checkov (pinned, in its own venv) passes on both stage templates.

Every finding is either fixed in the stack or accepted in
``infrastructure/checkov.yaml`` with its reason; an accepted check that no
longer finds anything fails here, so the list stays honest.
"""
from __future__ import annotations

import os

import checkov_env
import pytest


@pytest.fixture(scope="session")
def checkov():
    """The pinned checkov, installed into .venv/checkov on first use (about a minute)."""
    try:
        return checkov_env.ensure()
    except checkov_env.CheckovUnavailable as error:
        message = f"checkov could not be installed: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def templates(prod, dev):
    return [prod.template_path, dev.template_path]


def test_every_accepted_check_has_a_reason():
    accepted = checkov_env.accepted_checks()
    assert accepted, "checkov.yaml accepts nothing? then drop this test's premise"
    for check, reason in accepted.items():
        assert len(reason.split()) >= 5, f"{check}: say why it is accepted"


def test_checkov_passes(checkov, templates):
    done = checkov_env.run(templates, "-o", "json", checkov=checkov)
    failed = checkov_env.failed_checks(done.stdout)
    assert failed == set(), (
        "checkov findings: fix them in infrastructure/stacks/registration.py or accept them "
        f"with a reason in infrastructure/checkov.yaml:\n{sorted(failed)}\n{done.stderr[-2000:]}"
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_accepted_check_still_finds_something(checkov, templates):
    found = checkov_env.still_found(templates, checkov=checkov)
    stale = sorted(check for check, resources in found.items() if not resources)
    assert stale == [], f"accepted in checkov.yaml but no longer found (remove them): {stale}"
