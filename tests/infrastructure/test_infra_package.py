"""``chalice package`` must resolve every dependency for Lambda."""
from __future__ import annotations

import zipfile

import package_check
import pytest

WARNING_OUTPUT = """Creating deployment package.

Could not install dependencies:
psycopg2==2.9.9
You will have to build these yourself and vendor them in
the chalice vendor folder.

Your deployment will continue but may not work correctly
"""


def test_missing_dependency_warning_is_a_failure(tmp_path):
    problems = package_check.find_missing_dependencies(WARNING_OUTPUT)
    assert len(problems) == 1 and "psycopg2==2.9.9" in problems[0]
    report = package_check.PackageReport(0, WARNING_OUTPUT, tmp_path / "deployment.zip")
    (tmp_path / "deployment.zip").write_bytes(b"")
    assert report.problems == problems


def test_clean_output_has_no_problems():
    assert package_check.find_missing_dependencies("Creating deployment package.\n") == []


@pytest.mark.slow
def test_prod_package_resolves_all_dependencies(tmp_path, capsys):
    """Packages the real app for prod (downloads manylinux wheels from PyPI)."""
    out = tmp_path / "package"
    report = package_check.package("prod", out)
    assert report.problems == [], report.output
    with zipfile.ZipFile(report.zip_path) as archive:
        names = archive.namelist()
    assert "app.py" in names
    # Trimmed and compiled as the stack's package (lambda_package.rebuild).
    assert report.rebuilt is not None and report.rebuilt.pyc_files == report.rebuilt.py_files
    assert not any(n.startswith("yaml/") for n in names)
    with capsys.disabled():
        print(f"\n[chalice package prod] deployment.zip {report.zip_bytes / 1e6:.1f} MB "
              f"({report.unzipped_bytes / 1e6:.1f} MB unzipped)")
