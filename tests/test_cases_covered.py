"""Every case of shared/cases/cases.yaml has a test marked ``@pytest.mark.case("<id>")``."""

import re
from pathlib import Path

import yaml

from tests.conftest import CASES_FILE

HERE = Path(__file__).parent
COPY = HERE / "data" / "cases.yaml"


def test_copy_of_cases_is_current():
    if CASES_FILE.exists():  # beside the clone in CI and sessions
        assert yaml.safe_load(CASES_FILE.read_text()) == yaml.safe_load(COPY.read_text())


def test_every_case_has_a_test():
    ids = {case["id"] for case in yaml.safe_load(COPY.read_text(encoding="utf-8"))}
    marked = set()
    for path in HERE.rglob("test_*.py"):
        marked |= set(re.findall(r'mark\.case\("([a-z0-9-]+)"\)', path.read_text(encoding="utf-8")))
    assert ids - marked == set(), f"cases without a test: {sorted(ids - marked)}"
