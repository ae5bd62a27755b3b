"""Cases csv-formula and csv-non-ascii (shared/cases/cases.yaml): exports safe for Excel, names intact."""

from __future__ import annotations

import csv
import io

import pytest
import yaml

from tests.conftest import CASES_FILE, ROOT
from tests.staff.conftest import person, register, run

FORMULA_NAME = '=HYPERLINK("http://evil.example","klik")'
PHONE_LIKE_NAME = "+31 20 123 4567"
PHONE = "+31 6 12345678"
TEXT_ANSWER = "-Anna"
NON_ASCII = ["Özdemir", "读写汉字", "Ødegård"]


def case(case_id: str) -> dict | None:
    """The case from shared/cases/cases.yaml (else the repository's copy, tests/data/cases.yaml)."""
    for path in (CASES_FILE, ROOT / "tests" / "data" / "cases.yaml"):
        if path.exists():
            cases = yaml.safe_load(path.read_text(encoding="utf-8"))
            return next(c for c in cases if c["id"] == case_id)
    return None


def test_the_cases_file_says_what_we_test():
    formula, non_ascii = case("csv-formula"), case("csv-non-ascii")
    if formula is None:
        pytest.skip("no cases file (shared/cases/cases.yaml or tests/data/cases.yaml)")
    assert (
        'HYPERLINK(\\"http://evil.example\\"' in formula["input"]
        or 'HYPERLINK("http://evil.example"' in formula["input"]
    )
    for text in (PHONE_LIKE_NAME, PHONE, TEXT_ANSWER):
        assert text in formula["input"]
    for name in NON_ASCII:
        assert name in non_ascii["input"]


@pytest.fixture
def registrants(cases_event):
    register(cases_event.id, **person(FORMULA_NAME, "evil@example.org", note="@SUM(1+1)"))
    register(cases_event.id, **person(PHONE_LIKE_NAME, "phone@example.org", phone=PHONE, note=TEXT_ANSWER))
    for n, name in enumerate(NON_ASCII):
        register(cases_event.id, **person(name, f"n{n}@example.org", note="a = b" if n == 0 else "5"))
    return cases_event


def csv_rows(path, delimiter=","):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline=""), delimiter=delimiter))


@pytest.mark.case("csv-formula")
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_formula_no_cell_is_a_formula(registrants, tmp_path, delimiter):
    out = tmp_path / "list.csv"
    assert run("registrations", "export", registrants.id, "-o", str(out), "--delimiter", delimiter).exit_code == 0
    rows = {r["email"]: r for r in csv_rows(out, delimiter)}
    assert rows["evil@example.org"]["name"] == "'" + FORMULA_NAME
    assert rows["evil@example.org"]["note"] == "'@SUM(1+1)"
    assert rows["phone@example.org"]["name"] == "'" + PHONE_LIKE_NAME
    assert rows["phone@example.org"]["note"] == "'" + TEXT_ANSWER
    # A phone answer keeps its + and digits; the leading quote keeps Excel from reading a formula.
    assert rows["phone@example.org"]["phone"] == "'" + PHONE
    # Nothing else is altered.
    assert rows["n1@example.org"]["note"] == "5"
    assert rows["n0@example.org"]["name"] == "Özdemir"
    assert rows["n0@example.org"]["note"] == "a = b"  # an = inside, not at the start
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    for row in rows.values():
        for column, value in row.items():
            assert not value.startswith(dangerous), (column, value)


def test_phone_answers_and_text_are_quoted_alike():
    from staff.writers import spreadsheet_text

    assert spreadsheet_text("+31 6 12345678", "phone") == "'+31 6 12345678"
    assert spreadsheet_text("06 12345678", "phone") == "06 12345678"
    assert spreadsheet_text('+HYPERLINK("http://evil.example")', "phone") == '\'+HYPERLINK("http://evil.example")'
    assert spreadsheet_text("+31 6 12345678", "text") == "'+31 6 12345678"
    assert spreadsheet_text("\rx") == "'\rx" and spreadsheet_text("a=b") == "a=b"
    assert spreadsheet_text(-3) == "-3" and spreadsheet_text(True) == "yes" and spreadsheet_text(None) == ""


@pytest.mark.case("csv-non-ascii")
def test_csv_non_ascii_names_intact_with_bom(registrants, tmp_path):
    out = tmp_path / "list.csv"
    assert run("registrations", "export", registrants.id, "-o", str(out)).exit_code == 0
    names = [r["name"] for r in csv_rows(out)]
    for name in NON_ASCII:
        assert name in names


@pytest.mark.case("csv-formula")
@pytest.mark.case("csv-non-ascii")
def test_xlsx_has_strings_not_formulas_and_the_names(registrants, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "list.xlsx"
    assert run("registrations", "export", registrants.id, "-o", str(out)).exit_code == 0
    sheet = load_workbook(out).active  # not read-only: cell.data_type tells formulas ("f") from strings ("s")
    header = [c.value for c in sheet[1]]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    by_email = {
        row[header.index("email")]: dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert by_email["evil@example.org"]["name"] == FORMULA_NAME  # exact text: a string cell needs no quote
    assert by_email["phone@example.org"]["name"] == PHONE_LIKE_NAME
    assert by_email["phone@example.org"]["phone"] == PHONE
    assert by_email["phone@example.org"]["note"] == TEXT_ANSWER
    assert [by_email[f"n{n}@example.org"]["name"] for n in range(3)] == NON_ASCII
