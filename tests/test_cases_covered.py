"""Every case of every ``tests/data/cases*.yaml`` has a test marked ``@pytest.mark.case("<id>")``.

The files are copies of ``shared/cases/cases*.yaml`` (beside the clone in sessions; CI has none):
when that folder exists, each copy must equal its original, and every file there must be copied.
"""

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import CASES_FILE

HERE = Path(__file__).parent
DATA = HERE / "data"
SHARED = CASES_FILE.parent
COPIES = sorted(DATA.glob("cases*.yaml"))


def _ids(path: Path) -> list[str]:
    return [case["id"] for case in yaml.safe_load(path.read_text(encoding="utf-8"))]


def _marked() -> set[str]:
    marked: set[str] = set()
    for path in HERE.rglob("test_*.py"):
        marked |= set(re.findall(r'mark\.case\("([a-z0-9-]+)"\)', path.read_text(encoding="utf-8")))
    return marked


def test_both_case_files_are_here():
    assert [p.name for p in COPIES] == ["cases-2.yaml", "cases.yaml"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared/cases beside the clone (CI): the copies stand alone")
def test_every_shared_case_file_is_copied():
    assert sorted(p.name for p in SHARED.glob("cases*.yaml")) == [p.name for p in COPIES]


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.name)
def test_copy_of_cases_is_current(copy):
    original = SHARED / copy.name
    if original.exists():  # beside the clone in sessions
        assert yaml.safe_load(original.read_text(encoding="utf-8")) == yaml.safe_load(copy.read_text(encoding="utf-8"))


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.name)
def test_every_case_has_a_test(copy):
    ids = _ids(copy)
    assert len(ids) == len(set(ids)), f"{copy.name}: a case id repeats"
    missing = set(ids) - _marked()
    assert missing == set(), f"{copy.name}: cases without a test: {sorted(missing)}"


def test_case_ids_do_not_repeat_across_files():
    seen: dict[str, str] = {}
    for copy in COPIES:
        for case_id in _ids(copy):
            assert case_id not in seen, f"{case_id} is in {seen.get(case_id)} and {copy.name}"
            seen[case_id] = copy.name
