"""Exports list rows by status, then registration time, and convert writes the same bytes as before.

``tests/staff/data/golden/`` holds what the code before the one-pass reader wrote for the golden
export (``tests/staff/golden.py``): whatever the order of the items in the export and however
many data files, the files written now are byte for byte the same.
"""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.staff.conftest import person, register, run, write_aws_export
from tests.staff.golden import EVENT_ID, GOLDEN_DIR, golden_items, golden_registrations


def golden_export(root, *, shuffle_seed: int | None = None, files: int = 1):
    from chalicelib import store

    items = [store.serialize(item) for item in golden_items()]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(items)
    return write_aws_export(root, items, files=files)


@pytest.mark.parametrize("seed,files", [(None, 1), (1, 1), (2, 3), (3, 2)])
@pytest.mark.parametrize("name,options", [
    ("golden-registrations.csv", []),
    ("golden-registrations-semicolon.csv", ["--delimiter", ";"]),
    ("golden-registrations.jsonl", []),
])
def test_convert_writes_the_golden_bytes_in_any_export_order(tmp_path, seed, files, name, options):
    folder = golden_export(tmp_path / "export", shuffle_seed=seed, files=files)
    out = tmp_path / name
    result = run("exports", "convert", str(folder), "--event", EVENT_ID, "-o", str(out), *options)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (GOLDEN_DIR / name).read_bytes()


def test_convert_to_xlsx_has_the_golden_cells(tmp_path):
    from openpyxl import load_workbook

    folder = golden_export(tmp_path / "export", shuffle_seed=5, files=2)
    out = tmp_path / "out.xlsx"
    assert run("exports", "convert", str(folder), "--event", EVENT_ID, "-o", str(out)).exit_code == 0
    cells = [list(r) for r in load_workbook(out).active.iter_rows(values_only=True)]
    assert cells == json.loads((GOLDEN_DIR / "golden-registrations-xlsx.json").read_text(encoding="utf-8"))


def test_rows_come_in_order_also_when_the_spool_spills_to_disk(tmp_path):
    """Runs of two entries: the merge of five runs gives the order and the golden rows."""
    from staff import exporting
    from staff.exportfiles import locate, parse_source

    layout = locate(parse_source(str(golden_export(tmp_path / "export", shuffle_seed=7, files=3))))
    with exporting.read_export(layout, None, run_size=2) as export:
        folder = export.spool._folder
        assert folder is not None and len(export.spool._runs) == 5  # 10 registrations of two events
        found = exporting.choose_event(export.events, EVENT_ID)
        rows = list(export.rows(found))
    assert not os.path.exists(folder.name)  # the runs are removed
    expected = [json.loads(line) for line in (GOLDEN_DIR / "golden-registrations.jsonl").read_text().splitlines()]
    assert [dict(zip(expected[0], row, strict=True)) for row in rows] == expected
    assert [r["registration_id"] for r in expected] == [r["registration_id"] for r in golden_registrations()]


def test_the_spool_sorts_any_entries_with_bounded_memory():
    from staff.exporting import SortedSpool

    entries = [(random.Random(n).randrange(50), n, {"value": [n, str(n)]}) for n in range(1000)]
    with SortedSpool(run_size=64) as spool:
        for entry in entries:
            spool.add(entry)
        assert len(spool) == 1000 and len(spool._entries) < 64
        assert list(spool) == sorted(entries, key=lambda e: e[:2])


typed_scalar = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=20)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-10**30, 10**30)),
    st.builds(lambda n: {"N": n}, st.sampled_from(["1.5", "-0.25", "1E+2", "1e-3", "0.0", "12345678901234567890.5"])),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(min_size=1, max_size=5), min_size=1, max_size=4)),
    st.builds(lambda s: {"NS": sorted(str(n) for n in s)}, st.sets(st.integers(-999, 999), min_size=1, max_size=4)),
)
typed_value = st.recursive(typed_scalar, lambda inner: st.one_of(
    st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
    st.builds(lambda items: {"M": items}, st.dictionaries(st.text(max_size=8), inner, max_size=4)),
), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(typed_value)
def test_plain_reads_typed_json_as_store_deserialize_does(value):
    from chalicelib import store
    from staff.exportfiles import plain

    assert plain(value) == store.deserialize({"a": value})["a"]


def test_registrations_export_and_list_sort_by_status_then_time(cases_event, tmp_path):
    """Capacity 3: A, B, C confirmed, D and E waitlisted; B cancels, so D is promoted and E is first in line."""
    from chalicelib import lifecycle

    ids = [register(cases_event.id, **person(name, f"{name.lower()}@example.org")).registration_id
           for name in ("Anna", "Bram", "Carla", "Dirk", "Eva")]
    lifecycle.cancel(cases_event.id, ids[1], by="staff")
    out = tmp_path / "list.json"
    assert run("registrations", "export", cases_event.id, "-o", str(out)).exit_code == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["name"], r["status"], r["waitlist_position"]) for r in rows] == [
        ("Anna", "confirmed", None), ("Carla", "confirmed", None), ("Dirk", "confirmed", None),
        ("Eva", "waitlisted", 1), ("Bram", "cancelled", None)]
    listed = run("registrations", "list", cases_event.id)
    assert [line.split()[0:3] for line in listed.stdout.splitlines()[2:]] == [
        ["confirmed", "Anna", "anna@example.org"],
        ["confirmed", "Carla", "carla@example.org"],
        ["confirmed", "Dirk", "dirk@example.org"],
        ["waitlisted", "1", "Eva"],
        ["cancelled", "Bram", "bram@example.org"],
    ]


def test_the_waitlist_keeps_its_order_against_registration_time():
    from staff.columns import sort_key

    early_but_later_ticket = {
        "status": "waitlisted",
        "waitlist_ticket": 9,
        "registered_at": "2023-05-01T09:00:00+00:00",
        "registration_id": "a",
    }
    late_but_first_ticket = {"status": "waitlisted", "waitlist_ticket": 2, "registered_at": "2023-05-02T09:00:00+00:00",
                             "registration_id": "b"}
    confirmed_last = {"status": "confirmed", "registered_at": "2023-06-01T09:00:00+00:00", "registration_id": "c"}
    offset = {"status": "confirmed", "registered_at": "2023-06-01T10:30:00+02:00", "registration_id": "d"}  # 08:30 UTC
    ordered = sorted([early_but_later_ticket, late_but_first_ticket, confirmed_last, offset], key=sort_key)
    assert [i["registration_id"] for i in ordered] == ["d", "c", "b", "a"]


def test_escaped_json_and_blank_lines_read_alike_and_a_bad_line_is_named(tmp_path):
    """The same items with every non-ASCII character (and '#') written as \\u escapes, and blank lines between."""
    import gzip

    from chalicelib import store

    data = tmp_path / "escaped" / "data"
    data.mkdir(parents=True)
    lines = [json.dumps({"Item": store.serialize(item)}, ensure_ascii=True).replace("#", "\\u0023")
             for item in golden_items()]
    with gzip.open(data / "one.json.gz", "wt", encoding="ascii") as out:
        out.write("\n\n".join(lines) + "\n")
    out = tmp_path / "escaped.csv"
    assert run("exports", "convert", str(tmp_path / "escaped"), "--event", EVENT_ID, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == (GOLDEN_DIR / "golden-registrations.csv").read_bytes()

    with gzip.open(data / "one.json.gz", "wt", encoding="ascii") as broken:
        broken.write(lines[0] + "\n" + '{"Item": {"pk": {"S": "EVENT#x"}, "sk"' + "\n")
    result = run("exports", "convert", str(tmp_path / "escaped"), "--event", EVENT_ID, "-o", str(out))
    assert result.exit_code == 2
    assert "one.json.gz line 2: not a DynamoDB JSON item" in result.stderr
