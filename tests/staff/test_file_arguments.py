"""Files the staff commands write (``-o``) and read (an export folder, an event file): a path that cannot
be used is one ``Error:`` line naming it and the reason, exit 2 (README, "Staff tools"), never a traceback."""

from __future__ import annotations

import csv
import gzip
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.staff.conftest import person, register, run, table_items, write_aws_export


@pytest.fixture
def one_registration(cases_event):
    register(cases_event.id, **person("Anna", "anna@example.org"))
    return cases_event


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error")]


def unusable_outputs(tmp_path):
    """``(-o value, extra options, what the error says)`` for outputs that can never be written."""
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    return [
        ("/nonexistent/dir/x.csv", [], "cannot write '/nonexistent/dir/x.csv': the folder '/nonexistent/dir' "
                                        "does not exist"),
        ("/nonexistent/dir/x.xlsx", [], "the folder '/nonexistent/dir' does not exist"),
        (str(tmp_path / "a-file" / "x.json"), [], f"{str(tmp_path / 'a-file')!r} is not a folder"),
        (str(tmp_path / "a-folder"), ["--format", "csv"], f"{str(tmp_path / 'a-folder')!r} is a directory"),
    ]


def test_export_to_an_unusable_path_is_one_error_line_and_exit_2(one_registration, tmp_path):
    for output, options, says in unusable_outputs(tmp_path):
        result = run("registrations", "export", one_registration.id, "-o", output, *options)  # no traceback
        assert result.exit_code == 2, (output, result.output)
        [line] = error_lines(result.stderr)
        assert line.startswith("Error: Invalid value for '-o' / '--output': ") and says in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]  # nothing written, no .partial
    assert list((tmp_path / "a-folder").iterdir()) == []


def test_convert_to_an_unusable_path_is_refused_before_the_export_is_read(one_registration, tmp_path):
    folder = write_aws_export(tmp_path / "export", table_items())
    for output, options, says in unusable_outputs(tmp_path):
        result = run("exports", "convert", str(folder), "--event", one_registration.id, "-o", output, *options)
        assert result.exit_code == 2, (output, result.output)
        [line] = error_lines(result.stderr)
        assert says in line and "Reading export" not in result.stderr, result.stderr


def test_devices_pipes_and_read_only_files_are_refused_not_replaced(one_registration, tmp_path):
    """The writers write beside the file and rename over it: a device (a tester as root turned
    ``/dev/full`` into a file), a named pipe or a read-only file would have been replaced."""
    import os
    import stat

    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    read_only = tmp_path / "kept.csv"
    read_only.write_text("keep me\n", encoding="utf-8")
    read_only.chmod(0o444)
    not_a_file = "it is not a regular file (a device, pipe or socket); give a file name, or - for stdout"
    for output, says in [("/dev/null", not_a_file), (str(pipe), not_a_file),
                         (str(read_only), "the file is read-only")]:
        result = run("registrations", "export", one_registration.id, "-o", output, "--format", "csv")
        assert result.exit_code == 2, (output, result.output)
        [line] = error_lines(result.stderr)
        assert line == f"Error: Invalid value for '-o' / '--output': cannot write {output!r}: {says}", line
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert read_only.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv", "pipe.csv"]


def test_a_file_written_over_keeps_its_permissions(one_registration, tmp_path):
    """A ``chmod 600`` list replaced by a new export became world-readable (the new file took the umask's
    mode): names and addresses staff had made private (a tester's find). A new file gets the umask's."""
    import stat

    for suffix in ("csv", "xlsx", "json"):
        private = tmp_path / f"private.{suffix}"
        private.write_text("old\n", encoding="utf-8")
        private.chmod(0o600)
        assert run("registrations", "export", one_registration.id, "-o", str(private)).exit_code == 0
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, suffix
        assert private.read_bytes() != b"old\n"


def test_a_symbolic_link_is_followed_and_stays(one_registration, tmp_path):
    (tmp_path / "shared").mkdir()
    target = tmp_path / "shared" / "list.csv"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    for output in (link, tmp_path / "latest.xlsx"):
        if output.suffix == ".xlsx":
            output.symlink_to(tmp_path / "shared" / "list.xlsx")  # a link to a file not there yet
        result = run("registrations", "export", one_registration.id, "-o", str(output))
        assert result.exit_code == 0, result.output
        assert output.is_symlink()
    assert target.read_text(encoding="utf-8-sig").startswith("registration_id,status,")
    assert (tmp_path / "shared" / "list.xlsx").read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["list.csv", "list.xlsx"]


def test_a_delimiter_without_csv_and_xlsx_to_stdout_are_refused_before_reading(one_registration, tmp_path):
    folder = write_aws_export(tmp_path / "export", table_items())
    for command in (["registrations", "export", one_registration.id],
                    ["exports", "convert", str(folder), "--event", one_registration.id]):
        for options, says in [(["-o", str(tmp_path / "x.xlsx"), "--delimiter", ";"],
                               "Error: --delimiter ';' is for CSV files; xlsx has no delimiter"),
                              (["-o", "-", "--format", "xlsx"],
                               "Error: XLSX cannot be written to stdout; give a file name with -o")]:
            result = run(*command, *options)
            assert result.exit_code == 2, result.output
            assert error_lines(result.stderr) == [says] and "Reading" not in result.stderr
    assert run("registrations", "export", one_registration.id, "-o", str(tmp_path / "x.json"),
               "--delimiter", ";").exit_code == 2
    assert run("registrations", "export", one_registration.id, "-o", str(tmp_path / "x.xlsx"),
               "--delimiter", ",").exit_code == 0  # the default, said out loud


def test_a_format_the_file_name_contradicts_is_refused_before_reading(one_registration, tmp_path):
    folder = write_aws_export(tmp_path / "export", table_items())
    for command in (["registrations", "export", one_registration.id],
                    ["exports", "convert", str(folder), "--event", one_registration.id]):
        out = tmp_path / "list.csv"
        result = run(*command, "-o", str(out), "--format", "xlsx")
        assert result.exit_code == 2, result.output
        assert error_lines(result.stderr) == [
            f"Error: --format xlsx would write XLSX into {str(out)!r}, a .csv name; name the file .xlsx, "
            "or leave --format out"]
        assert not out.exists() and "Reading" not in result.stderr
        # a name that says nothing, or the same format, is fine
        assert run(*command, "-o", str(tmp_path / "list.txt"), "--format", "xlsx").exit_code == 0
        assert run(*command, "-o", str(tmp_path / "list.CSV"), "--format", "csv").exit_code == 0


def test_the_command_line_prints_one_error_line_for_an_unusable_output(one_registration, tmp_path, capsys):
    from staff.cli import main

    code = main(["--stage", "local", "registrations", "export", one_registration.id, "-o", "/nonexistent/dir/x.csv"])
    assert code == 2
    err = capsys.readouterr().err
    assert error_lines(err) == ["Error: Invalid value for '-o' / '--output': cannot write '/nonexistent/dir/x.csv': "
                                "the folder '/nonexistent/dir' does not exist"]
    assert "Traceback" not in err


def test_a_file_the_system_refuses_while_writing_is_one_error_line(one_registration, tmp_path):
    """The folder is fine, yet the file cannot be made (a name longer than the file system's 255 bytes):
    the ``OSError`` of writing is reported like the refusals above, with the file it was about."""
    for suffix in ("csv", "xlsx", "json"):
        output = tmp_path / f"{'x' * 300}.{suffix}"
        result = run("registrations", "export", one_registration.id, "-o", str(output))
        assert result.exit_code == 2, result.output
        [line] = error_lines(result.stderr)
        assert line.startswith(f"Error: {tmp_path}/.xxx") and line.endswith(": File name too long"), line
    assert list(tmp_path.iterdir()) == []


def test_an_export_file_that_is_not_gzip_is_a_format_error(one_registration, tmp_path):
    folder = write_aws_export(tmp_path / "export", table_items(), files=1)
    [data_file] = (folder / "data").iterdir()
    whole = data_file.read_bytes()
    for broken, says in [(b"not gzip at all", "not a whole gzip data file (Not a gzipped file (b'no'))"),
                         (whole[: len(whole) // 2], "not a whole gzip data file (Compressed file ended")]:
        data_file.write_bytes(broken)
        for command in (["convert", str(folder), "--event", one_registration.id, "-o", str(tmp_path / "o.csv")],
                        ["query", str(folder), "SELECT 1"]):
            result = run("exports", *command)
            assert result.exit_code == 2, result.output
            [line] = error_lines(result.stderr)
            assert line.startswith(f"Error: {data_file}: ") and says in line, line
    single = tmp_path / "single.gz"
    single.write_bytes(gzip.compress(b"{}\n")[:-4])  # one data file given as SOURCE, its end cut off
    result = run("exports", "query", str(single), "SELECT 1")
    assert result.exit_code == 2 and error_lines(result.stderr)[0].startswith(f"Error: {single}: not a whole gzip")


def test_a_broken_manifest_is_a_format_error(one_registration, tmp_path):
    folder = write_aws_export(tmp_path / "export", table_items())
    for manifest, text, says in [
        ("manifest-files.json", '{"itemCount": 1}\n', "a line is not {\"dataFileS3Key\": ...} JSON (KeyError"),
        ("manifest-files.json", "[1]\n", "a line is not"),
        ("manifest-files.json", "{\n", "a line is not"),
        ("manifest-summary.json", "[]", "not a JSON object"),
    ]:
        (folder / manifest).write_text(text, encoding="utf-8")
        result = run("exports", "query", str(folder), "SELECT 1")
        assert result.exit_code == 2, result.output
        [line] = error_lines(result.stderr)
        assert line.startswith(f"Error: {folder / manifest}: ") and says in line, line
        write_aws_export(tmp_path / "export", table_items())  # whole again


def test_files_that_are_not_there_keep_their_exit_codes(one_registration, tmp_path):
    """What was already one line stays so: a missing export source is "not found" (1), a missing or
    unreadable event file a validation error (2)."""
    missing = run("exports", "query", str(tmp_path / "missing"), "SELECT 1")
    assert missing.exit_code == 1 and error_lines(missing.stderr) == [f"Error: {tmp_path / 'missing'}: no such file "
                                                                      "or folder"]
    event_file = run("events", "put", str(tmp_path / "missing.yaml"))
    assert event_file.exit_code == 2 and "No such file or directory" in error_lines(event_file.stderr)[0]
    (tmp_path / "latin1.yaml").write_bytes("id: caf\xe9\n".encode("latin-1"))
    undecodable = run("events", "put", str(tmp_path / "latin1.yaml"))
    assert undecodable.exit_code == 2 and "can't decode" in error_lines(undecodable.stderr)[0]


@pytest.mark.parametrize(("delimiter", "reason"), [
    ('"', "it is the CSV quote character"),
    ("'", "it is the quote that keeps spreadsheet formulas from running"),
    ("\n", "it is a line break"),
    ("\r", "it is a line break"),
    ("\u2028", "it is a line break"),
    ("\x1e", "it is a line break"),
    ("\x00", "it is invisible or unprintable"),
    ("\ufeff", "it is invisible or unprintable"),
    ("\u202e", "it is invisible or unprintable"),
    ("\u2003", "it is invisible or unprintable"),
    ("\u0301", "it is a combining mark, which joins the letter before it"),  # zoe@example.orǵnĺ2023 (tester)
    ("\udcff", "UTF-8 cannot write it"),
    ("ab", "give one character, e.g. ';' (or 'tab')"),
    ("", "give one character"),
])
def test_a_delimiter_that_breaks_the_csv_is_refused(one_registration, tmp_path, delimiter, reason):
    folder = write_aws_export(tmp_path / "export", table_items())
    out = tmp_path / "out.csv"
    for command in (["registrations", "export", one_registration.id, "-o", str(out)],
                    ["exports", "convert", str(folder), "--event", one_registration.id, "-o", str(out)]):
        result = run(*command, "--delimiter", delimiter)
        assert result.exit_code == 2, result.output
        [line] = error_lines(result.stderr)
        assert line.startswith(f"Error: Invalid value for '--delimiter': {delimiter!r} cannot separate CSV cells")
        assert reason in line, line
        assert not out.exists()


@pytest.mark.parametrize(("given", "delimiter"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|"), (" ", " ")])
def test_a_usable_delimiter_separates_the_cells(one_registration, tmp_path, given, delimiter):
    out = tmp_path / "out.csv"
    assert run("registrations", "export", one_registration.id, "-o", str(out), "--delimiter", given).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline=""), delimiter=delimiter))
    assert rows[0][:3] == ["registration_id", "status", "waitlist_position"] and rows[1][3] == "Anna"


HOSTILE_CELL = st.text(alphabet=st.sampled_from('"\',;\t\r\n =+-@a\u2028\x00\ufeffé'), max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.characters(), st.lists(st.lists(HOSTILE_CELL, min_size=2, max_size=2), min_size=1, max_size=3))
def test_every_delimiter_the_tools_accept_reads_back_the_same_cells(tmp_path_factory, delimiter, cells):
    """Any one character: refused with a reason, or a CSV of hostile cells (quotes, CR/LF, the delimiter
    itself, formula starts) that the csv module reads back cell for cell, one row per registration."""
    from staff.columns import Column
    from staff.writers import check_delimiter, neutralise, write_csv

    try:
        check_delimiter(delimiter)
    except ValueError as refused:
        assert "\n" not in str(refused)  # noqa: PT017 - a property: refused with one line, or usable
        return
    path = tmp_path_factory.mktemp("csv") / "out.csv"
    assert write_csv(str(path), [Column("a", "text"), Column("b", "text")], cells, delimiter=delimiter) == len(cells)
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    back = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert back == [["a", "b"], *[[neutralise(c) for c in row] for row in cells]]
    # the delimiter never ends a line, nor is it invisible: what a person or a line-based reader sees
    assert len(f"a{delimiter}b".splitlines()) == 1
    assert delimiter.isprintable() or delimiter == "\t"
