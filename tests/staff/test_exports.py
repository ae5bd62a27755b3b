"""``python -m staff exports ...``: start (moto), list, convert (moto's layout and AWS's), query."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

from tests.conftest import ROOT
from tests.staff.conftest import person, register, run, staff_prefix, table_items, write_aws_export

BUCKET = "registrations-local-exports"


@pytest.fixture
def filled(cases_event):
    """Five registrations (three confirmed, two waitlisted); plus the seed event with one registration."""
    from chalicelib import store
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR, SEED_EVENT_ID

    store.put_event(load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"))
    people = [
        person("Anna", "anna@example.org", phone="+31 6 12345678", diet=["vegetarian"], member=True),
        person("Özdemir", "oz@example.org", member=False, note="=1+1"),
        person("读写汉字", "han@example.org", diet=["vegetarian", "halal"]),
        person("Ødegård", "ode@example.org", member=True),
        person("Eva", "eva@example.org"),
    ]
    for p in people:
        register(cases_event.id, **p)
    register(SEED_EVENT_ID, email="other@example.org")  # another event's registration: never in these rows
    return cases_event


def csv_rows(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def sorted_rows(rows: list[list[str]]) -> list[list[str]]:
    return [rows[0], *sorted(rows[1:])]


def test_start_waits_for_moto_and_convert_reads_its_single_data_file(filled, tmp_path):
    from chalicelib import aws

    result = run("exports", "start", "--wait")
    assert result.exit_code == 0, result.output
    assert "Turned on point-in-time recovery" in result.stderr
    # 2 event items, 2 counters items, 2 catalogue items, 6 registrations, 6 guards, 1 waitlist bucket
    assert "Completed: 19 item(s)" in result.stdout
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 1 and keys[0].endswith(".gz") and "/data/" in keys[0]  # moto: no manifests
    listed = run("exports", "list")
    assert (
        listed.exit_code == 0
        and "COMPLETED" in listed.stdout
        and f"s3://{BUCKET}/exports/registrations-local" in listed.stdout
    )

    out = tmp_path / "from-moto.csv"
    converted = run(
        "exports", "convert", f"s3://{BUCKET}/exports/registrations-local", "--event", filled.id, "-o", str(out)
    )
    assert converted.exit_code == 0, converted.output
    direct = tmp_path / "direct.csv"
    assert run("registrations", "export", filled.id, "-o", str(direct)).exit_code == 0
    assert sorted_rows(csv_rows(out)) == sorted_rows(csv_rows(direct))
    assert len(csv_rows(out)) == 6


def test_moto_export_and_aws_layout_give_the_same_rows(filled, tmp_path):
    """The same table, exported by moto (one data file) and written in AWS's layout (manifests, two files)."""
    from chalicelib import aws

    assert run("exports", "start", "--wait", "--prefix", "moto").exit_code == 0
    moto_dir = tmp_path / "moto"
    s3 = aws.client("s3")
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="moto/")["Contents"]:
        target = moto_dir / obj["Key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
    aws_dir = tmp_path / "aws"
    folder = write_aws_export(aws_dir, table_items(), files=2, prefix="exports/registrations-local")
    assert sorted(p.name for p in folder.iterdir()) == [
        "_started",
        "data",
        "manifest-files.json",
        "manifest-summary.json",
    ]
    assert len(list((folder / "data").iterdir())) == 2
    # The AWS layout also from S3, as AWS writes it (keys in the manifest are bucket keys).
    for path in aws_dir.rglob("*"):
        if path.is_file():
            s3.put_object(Bucket=BUCKET, Key=path.relative_to(aws_dir).as_posix(), Body=path.read_bytes())

    outputs = {}
    for name, source in {
        "moto-folder": str(moto_dir),
        "moto-s3": f"s3://{BUCKET}/moto",
        "aws-folder": str(aws_dir),
        "aws-export-folder": str(folder),  # the export's own folder, e.g. after aws s3 sync of it
        "aws-s3": f"s3://{BUCKET}/exports/registrations-local/AWSDynamoDB/",
    }.items():
        out = tmp_path / f"{name}.jsonl"
        result = run("exports", "convert", source, "--event", filled.id, "-o", str(out))
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = sorted(out.read_text(encoding="utf-8").splitlines())
    first = outputs["moto-folder"]
    assert len(first) == 5
    assert all(rows == first for rows in outputs.values())
    rows = [json.loads(line) for line in first]
    han = next(r for r in rows if r["name"] == "读写汉字")
    assert han["diet"] == "vegetarian; halal" and han["status"] == "confirmed" and han["waitlist_position"] is None
    assert [(r["name"], r["waitlist_position"]) for r in rows if r["status"] == "waitlisted"] in (
        [("Ødegård", 1), ("Eva", 2)], [("Eva", 2), ("Ødegård", 1)])


def test_convert_to_xlsx_and_csv_with_semicolons(filled, tmp_path):
    from openpyxl import load_workbook

    folder = write_aws_export(tmp_path / "x", table_items())
    xlsx = tmp_path / "out.xlsx"
    assert run("exports", "convert", str(folder), "--event", filled.id, "-o", str(xlsx)).exit_code == 0
    rows = list(load_workbook(xlsx, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 6 and {"Özdemir", "读写汉字", "Ødegård"} <= {r[3] for r in rows}
    assert next(r for r in rows if r[3] == "Özdemir")[8] == "=1+1"  # a string cell, exactly as typed
    out = tmp_path / "out.csv"
    assert (
        run("exports", "convert", str(folder), "--event", filled.id, "-o", str(out), "--delimiter", ";").exit_code == 0
    )
    text = out.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and b"registration_id;status;" in text and b"'=1+1" in text


def test_convert_needs_no_table_for_a_local_folder(filled, tmp_path, monkeypatch):
    from staff.cli import main

    folder = write_aws_export(tmp_path / "x", table_items())
    monkeypatch.delenv("STAFF_STAGE", raising=False)
    assert main(["exports", "convert", str(folder), "--event", filled.id, "-o", str(tmp_path / "o.csv")]) == 0


def test_convert_picks_the_newest_of_several_exports(filled, tmp_path):
    root = tmp_path / "exports"
    write_aws_export(root, table_items()[:3], export_id="01600000000000-old00000", export_time="2023-01-01T00:00:00Z")
    write_aws_export(root, table_items(), export_id="01700000000000-new00000", export_time="2023-06-01T00:00:00Z")
    out = tmp_path / "o.csv"
    result = run("exports", "convert", str(root), "--event", filled.id, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "2 exports found; using the newest" in result.stderr and "new00000" in result.stderr
    assert len(csv_rows(out)) == 6


def test_convert_errors_have_exit_codes(filled, tmp_path):
    folder = write_aws_export(tmp_path / "x", table_items())
    assert run("exports", "convert", str(folder), "--event", "nope", "-o", str(tmp_path / "o.csv")).exit_code == 1
    assert run("exports", "convert", str(tmp_path / "missing"), "--event", filled.id, "-o", "o.csv").exit_code == 1
    (tmp_path / "empty").mkdir()
    assert run("exports", "convert", str(tmp_path / "empty"), "--event", filled.id, "-o", "o.csv").exit_code == 1
    summary = folder / "manifest-summary.json"
    summary.write_text(summary.read_text().replace("DYNAMODB_JSON", "ION"))
    result = run("exports", "convert", str(folder), "--event", filled.id, "-o", str(tmp_path / "o.csv"))
    assert result.exit_code == 2 and "ION" in result.stderr
    for command in (["convert", "s3://no-such-bucket/x", "--event", filled.id, "-o", "o.csv"],
                    ["query", "s3://no-such-bucket/x", "SELECT 1"]):
        missing = run("exports", *command)  # an unknown export (README: exit 1), not an AWS failure
        assert missing.exit_code == 1 and "s3://no-such-bucket: no such bucket" in missing.stderr


def test_start_on_a_deployed_stage_without_pitr_explains_and_changes_nothing(filled):
    """Staff may not change PITR (the stack keeps it on): report it, exit 1, call no UpdateContinuousBackups."""
    from click.testing import CliRunner

    from chalicelib import aws
    from chalicelib.settings import get_settings
    from staff.cli import cli

    table = get_settings().table_name
    aws.client("s3").create_bucket(Bucket="dev-exports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    calls = []
    aws.client("dynamodb").meta.events.register(
        "before-send.dynamodb.*", lambda request, **_: calls.append(request.headers.get("X-Amz-Target", b""))
    )
    result = CliRunner().invoke(
        cli, ["--stage", "dev", "--table", table, "exports", "start", "--bucket", "dev-exports"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert f"Point-in-time recovery is off on {table}" in result.stderr
    assert "make deploy" in result.stderr
    targets = [c.decode() if isinstance(c, bytes) else c for c in calls]
    assert "DynamoDB_20120810.DescribeContinuousBackups" in targets  # the hook saw the command's calls
    assert not any(t.endswith(("UpdateContinuousBackups", "ExportTableToPointInTime")) for t in targets)
    backups = aws.client("dynamodb").describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"


def test_query_counts_per_role(seed_event, tmp_path):
    from tests.conftest import SEED_EVENT_ID

    roles = ["campaigner"] * 3 + ["lobbyist"] * 2 + ["mobiliser"]
    for n, role in enumerate(roles):
        register(email=f"p{n}@example.org", role=role, partos_member=n % 2 == 0, needs="Vegetarisch" if n < 2 else None)
    folder = write_aws_export(tmp_path / "x", table_items())
    result = run(
        "exports",
        "query",
        str(folder),
        "SELECT role, count(*) AS n FROM registrations GROUP BY role ORDER BY n DESC, role",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["role", "n"]
    assert [line.split() for line in lines[2:]] == [["campaigner", "3"], ["lobbyist", "2"], ["mobiliser", "1"]]

    members = run("exports", "query", str(folder), "--event", SEED_EVENT_ID, "--csv",
                  "SELECT partos_member, count(*) AS n FROM registrations GROUP BY 1 ORDER BY 1")
    assert members.exit_code == 0, members.output
    assert members.stdout.splitlines() == ["partos_member,n", "false,3", "true,3"]  # SQL's booleans, as the README says

    veggie = run("exports", "query", str(folder), "SELECT name, email FROM registrations WHERE needs ILIKE '%vegetar%'")
    assert veggie.exit_code == 0 and len(veggie.stdout.splitlines()) == 4


def test_query_refuses_bad_sql_and_file_access(seed_event, tmp_path):
    register(email="p@example.org")
    folder = write_aws_export(tmp_path / "x", table_items())
    bad = run("exports", "query", str(folder), "SELEC nonsense")
    assert bad.exit_code == 2 and "Error" in bad.stderr
    files = run("exports", "query", str(folder), "SELECT * FROM read_text('/etc/hostname')")
    assert files.exit_code == 2


@pytest.mark.parametrize("sql,says", [
    ("SELEC nonsense", 'Parser Error: syntax error at or near "SELEC" LINE 1: SELEC nonsense'),
    ("SELECT answer_status FROM registrations", 'Referenced column "answer_status" not found'),
    ("SELECT name::INTEGER FROM registrations", "Conversion Error"),
    ("SELECT * FROM read_text('/etc/hostname')", "Permission Error"),
    ("COPY registrations TO '/tmp/out.csv'", "only queries that read are run (SELECT, DESCRIBE, SUMMARIZE, "
     "EXPLAIN), not COPY"),
    ("DELETE FROM registrations", "not DELETE: the table is a copy of the export, and nothing here changes it"),
    ("SELECT 1; DROP TABLE registrations", "not DROP"),
    ("", 'no SQL given: write a query, e.g. "SELECT count(*) FROM registrations"'),
    ("  -- a comment only", "no SQL given"),
])
def test_every_duckdb_error_is_one_line_and_exit_2(seed_event, tmp_path, sql, says):
    register(email="p@example.org")
    folder = write_aws_export(tmp_path / "x", table_items())
    result = run("exports", "query", str(folder), sql)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and says in errors[0], result.stderr
    assert result.stderr.endswith(errors[0] + "\n")


def test_a_table_duckdb_cannot_load_is_a_query_error():
    from staff.columns import Column
    from staff.sql import QueryError, load

    with pytest.raises(QueryError) as refused:
        load([Column("answer_status", "text"), Column("answer_status", "bool")], [["a", True]])
    assert str(refused.value).startswith("could not load the registrations: ") and "\n" not in str(refused.value)


def test_query_prints_booleans_as_sql_does(filled, tmp_path):
    folder = write_aws_export(tmp_path / "x", table_items())
    result = run("exports", "query", str(folder), "--event", filled.id,
                 "SELECT member, count(*) AS n, member IS NULL AS unanswered FROM registrations GROUP BY 1 ORDER BY 1")
    assert result.exit_code == 0, result.output
    # an unticked checkbox is stored as false: three false, two true
    assert [line.split() for line in result.stdout.splitlines()[2:]] == [
        ["false", "3", "false"],
        ["true", "2", "false"],
    ]


def test_query_with_several_events_asks_which(filled, tmp_path):
    folder = write_aws_export(tmp_path / "x", table_items())
    result = run("exports", "query", str(folder), "SELECT count(*) FROM registrations")
    assert result.exit_code == 2 and "--event" in result.stderr
    ok = run(
        "exports", "query", str(folder), "--event", filled.id, "SELECT count(*) AS n FROM registrations WHERE member"
    )
    assert ok.exit_code == 0 and ok.stdout.splitlines()[2].strip() == "2"


def test_a_bucket_name_s3_would_refuse_is_a_usage_error_before_any_aws_call(filled):
    for name in ("bad bucket", "Upper", "ab", "a" * 64, "-start", "end.", "two..dots", "192.168.1.1", "x_y"):
        result = run("exports", "start", "--bucket", name)
        assert result.exit_code == 2, (name, result.output)
        assert (f"Error: Invalid value for '--bucket': {name!r} is not an S3 bucket name: 3 to 63 lower-case "
                "letters, digits, dots and hyphens, starting and ending with a letter or digit") in result.stderr
    for name in ("xn--abc", "sthree-x", "amzn-s3-demo-x", "abc-s3alias", "abc--ol-s3", "abc.mrap", "abc--x-s3",
                 "abc--table-s3"):  # names S3 reserves (tester's find: --local created them, --x-s3 failed exit 3)
        result = run("exports", "start", "--bucket", name)
        assert result.exit_code == 2 and "S3 reserves names with" in result.stderr, (name, result.output)
    assert run("exports", "start", "--bucket", "my.exports-2026", "--prefix", "ok").exit_code == 0


def test_a_prefix_with_dot_segments_is_a_usage_error_before_any_aws_call(filled):
    for prefix in ("../../x", "exports/./x", "a//b", "/", "x\ny"):
        result = run("exports", "start", "--prefix", prefix)
        assert result.exit_code == 2, (prefix, result.output)
        assert (f"Error: Invalid value for '--prefix': {prefix!r} is not a key prefix: folder names separated "
                "by /, without . or .. or empty names (e.g. exports/registrations-prod)") in result.stderr
    assert run("exports", "start", "--prefix", "exports/2026-11/").exit_code == 0


def test_start_without_wait_prints_commands_that_work_pasted_as_printed(filled):
    result = run("exports", "start")
    assert result.exit_code == 0, result.output
    [hint] = [line for line in result.stderr.splitlines() if line.startswith("Check with:")]
    local = staff_prefix("--stage", "local")
    assert hint.startswith(f"Check with: {local} exports list; convert with: {local} exports convert "
                           f"s3://{BUCKET}/exports/")


def _stdout_nobody_reads():
    """A pipe whose reading end is closed before anything is written: every write to it fails with EPIPE
    (as ``| head -2`` does once head has its lines), whatever the speed of the machine."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


def test_a_reader_of_stdout_that_goes_away_stops_the_command_quietly_with_141(filled, tmp_path):
    """``... -o - | head -2`` printed ``Error: Broken pipe`` and exited 1 ("not found"). Now: nothing on
    stderr (no Error line, no traceback, no BrokenPipeError when the interpreter flushes stdout at exit)
    and 128 + SIGPIPE, as other command-line tools (README, "Staff tools")."""
    import os
    import subprocess
    import sys

    folder = write_aws_export(tmp_path / "x", table_items())
    write_end = _stdout_nobody_reads()
    try:
        done = subprocess.run([sys.executable, "-m", "staff", "exports", "convert", str(folder), "--event", filled.id,
                               "-o", "-"], stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, check=False)
    finally:
        os.close(write_end)
    notes = done.stderr.decode()
    assert done.returncode == 141, notes
    assert notes.startswith("Reading ") and notes.count("\n") == 1, notes  # its one note, and nothing after it


@pytest.mark.parametrize("command", [
    ["registrations", "export", "staff-cases-event", "-o", "-"],
    ["registrations", "export", "staff-cases-event", "-o", "-", "--format", "json"],
    ["registrations", "list", "staff-cases-event"],
])
def test_registrations_to_a_closed_pipe_exit_141_saying_nothing(filled, monkeypatch, capfd, command):
    import os
    import sys

    from staff.cli import main

    write_end = _stdout_nobody_reads()
    saved = os.dup(1)
    os.dup2(write_end, 1)
    os.close(write_end)
    stream = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - closed below, before fd 1 is restored
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        code = main(["--stage", "local", *command])
    finally:
        with contextlib.suppress(OSError):  # what is still buffered goes where the command pointed fd 1
            stream.close()
        os.dup2(saved, 1)
        os.close(saved)
    assert code == 141
    assert "Error" not in capfd.readouterr().err
