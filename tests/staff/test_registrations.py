"""``python -m staff registrations ...``: list, export (CSV/XLSX/JSON), cancel, erase."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SEED_EVENT_ID
from tests.staff.conftest import person, register, run

HEADER = ["registration_id", "status", "waitlist_position", "name", "email", "language", "registered_at",
          "phone", "note", "diet", "member", "email_state", "email_outcome", "checked_in_at"]


def read_csv(path, delimiter=","):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV starts with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline=""), delimiter=delimiter))


@pytest.fixture
def five(cases_event):
    """Capacity 3: three confirmed, two waitlisted (positions 1 and 2)."""
    people = [
        person("Anna de Vries", "anna@example.org", phone="+31 6 12345678", diet=["vegetarian", "halal"], member=True),
        person("Bram", "bram@example.org", note="Rolstoel", member=False),
        person("Carla", "carla@example.org"),
        person("Dirk", "dirk@example.org", diet=["vegetarian"]),
        person("Eva", "eva@example.org", member=True),
    ]
    return [register(cases_event.id, **p) for p in people]


def test_list_shows_a_readable_table(five):
    result = run("registrations", "list", "staff-cases-event")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "status",
        "pos",
        "name",
        "email",
        "registered",
        "checked",
        "in",
        "email",
        "outcome",
        "id",
    ]
    body = lines[2:]
    assert [line.split()[0] for line in body] == ["confirmed"] * 3 + ["waitlisted"] * 2
    assert body[3].split()[1:3] == ["1", "Dirk"] and body[4].split()[1:3] == ["2", "Eva"]
    assert " 2023-05-22 09:" in body[0]  # the local stage's pinned clock (runs on from 09:00), in the event's zone


def test_list_columns_stay_aligned_with_wide_and_combining_characters(cases_event):
    # CJK, a combining accent, full-width Latin, Hangul as macOS types it (decomposed jamo: 김민준 in NFD),
    # a zero-width space, an emoji family joined by zero-width joiners
    import unicodedata

    import wcwidth

    names = ["读写汉字", "Anna", "Zoe\u0301 Ødegård", "ｆｕｌｌ width", unicodedata.normalize("NFD", "김민준"),
             "Jan\u200bJansen", "\U0001F469\u200d\U0001F469\u200d\U0001F467 Family"]
    for n, name in enumerate(names):
        register(cases_event.id, **person(name, f"p{n}@example.org"))
    lines = run("registrations", "list", cases_event.id).stdout.splitlines()
    # Where each line's email column starts, counted in terminal columns: the same on every line.
    starts = {wcwidth.width(line[:line.index(f"p{n}@")]) for n, line in
              ((int(line.split("@")[0].rsplit("p", 1)[1]), line) for line in lines[2:])}
    assert len(starts) == 1
    assert wcwidth.width(lines[0][:lines[0].index("email")]) == starts.pop()


def test_list_shows_control_and_bidi_characters_as_spaces():
    from staff.tables import render

    table = render(["name"], [["Eve\x1b[2J\u202egnp.exe"], ["a\tb"]])
    assert "\x1b" not in table and "\u202e" not in table and "\t" not in table
    assert table.splitlines()[2] == "Eve [2J gnp.exe"


def test_list_filters_by_status(five):
    result = run("registrations", "list", "staff-cases-event", "--status", "waitlisted")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == ["waitlisted", "waitlisted"]
    empty = run("registrations", "list", "staff-cases-event", "--status", "cancelled")
    assert empty.exit_code == 0 and "No registrations with status cancelled" in empty.stdout


def test_list_unknown_event_exits_1(aws):
    assert run("registrations", "list", "nope").exit_code == 1


def test_export_csv_has_the_documented_columns(five, tmp_path):
    out = tmp_path / "list.csv"
    result = run("registrations", "export", "staff-cases-event", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert rows[0] == HEADER
    by_name = {r[3]: dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    anna = by_name["Anna de Vries"]
    assert anna["status"] == "confirmed" and anna["waitlist_position"] == ""
    assert anna["phone"] == "'+31 6 12345678"  # quoted: no cell is a formula
    assert anna["diet"] == "vegetarian; halal" and anna["member"] == "yes"
    assert anna["registered_at"].startswith("2023-05-22T09:") and anna["registered_at"].endswith("+02:00")
    assert anna["email_state"] == "pending" and anna["email_outcome"] == "" and anna["language"] == "nl"
    assert by_name["Bram"]["member"] == "no" and by_name["Bram"]["note"] == "Rolstoel"
    assert (by_name["Dirk"]["status"], by_name["Dirk"]["waitlist_position"]) == ("waitlisted", "1")
    assert by_name["Eva"]["waitlist_position"] == "2"
    assert by_name["Carla"]["diet"] == "" and by_name["Carla"]["phone"] == ""


def test_export_csv_with_semicolons_for_dutch_excel(five, tmp_path):
    out = tmp_path / "list.csv"
    assert run("registrations", "export", "staff-cases-event", "-o", str(out), "--delimiter", ";").exit_code == 0
    rows = read_csv(out, delimiter=";")
    assert rows[0] == HEADER and len(rows) == 6


def test_export_json_keeps_types(five, tmp_path):
    out = tmp_path / "list.json"
    result = run("registrations", "export", "staff-cases-event", "-o", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data) == 5 and list(data[0]) == HEADER
    dirk = next(d for d in data if d["name"] == "Dirk")
    assert dirk["waitlist_position"] == 1 and dirk["member"] is False and dirk["diet"] == "vegetarian"


def test_export_xlsx_reads_back(five, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "list.xlsx"
    result = run("registrations", "export", "staff-cases-event", "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out, read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER and len(rows) == 6
    eva = next(dict(zip(HEADER, r, strict=True)) for r in rows[1:] if r[3] == "Eva")
    assert eva["waitlist_position"] == 2 and eva["member"] == "yes"


def test_export_reads_every_page_by_query_never_scan(seed_event, tmp_path, monkeypatch):
    """More registrations than one Query page holds (moto pages at 1 MB); no Scan on the way."""
    from chalicelib import aws

    long = "x" * 900
    for n in range(60):  # with 1 KB answers and the seed's capacity 40 -> 40 confirmed, 20 waitlisted
        register(email=f"p{n}@example.org", needs=long, name=f"Person {n}")
    calls = []
    client = aws.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    monkeypatch.setattr("botocore.paginate.PageIterator._make_request", _smaller_pages(monkeypatch))
    out = tmp_path / "list.csv"
    result = run("registrations", "export", SEED_EVENT_ID, "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert len(rows) == 61
    assert "Scan" not in calls and calls.count("Query") >= 3
    positions = sorted(int(r[2]) for r in rows[1:] if r[1] == "waitlisted")
    assert positions == list(range(1, 21))


def _smaller_pages(monkeypatch):
    """Ask Query for 25 items a page, so that pagination is exercised with a small table."""
    from botocore.paginate import PageIterator

    original = PageIterator._make_request

    def make_request(self, current_kwargs):
        if self._method.__name__ == "query":
            current_kwargs = {**current_kwargs, "Limit": 25}
        return original(self, current_kwargs)

    return make_request


def test_erase_removes_personal_data_and_keeps_a_count(cases_event, pump):
    from chalicelib import store
    from tests.conftest import sent_messages
    from tests.staff.conftest import table_items

    people = [person(f"P{n}", f"p{n}@example.org", note=f"secret {n}", phone="+31 6 12345678") for n in range(4)]
    ids = [register(cases_event.id, **p).registration_id for p in people]
    pump.pump_once()
    before = len(sent_messages())
    [message_id] = store.message_ids(store.get_registration_in_event(cases_event.id, ids[0]))
    result = run("registrations", "erase", cases_event.id, "--email", "P0@Example.ORG", "--yes")
    assert result.exit_code == 0, result.output
    # registration, guard, its confirmation's message lookup, the promoted registration, its waitlist
    # bucket, the counters
    assert "6 item(s) changed" in result.stdout and "1 promoted from the waitlist" in result.stdout
    item = store.get_registration_in_event(cases_event.id, ids[0])
    assert item["status"] == "erased"
    # README "Staff tools": erased rows keep id, status, language and time (and their keys and expiry)
    assert set(item) == {"pk", "sk", "type", "registration_id", "event_id", "status", "language", "registered_at",
                         "status_changed_at", "erased_at", "expires_at"}
    dump = json.dumps(table_items())
    # Which email P0 got, and when, went too: the lookup says only that its registration was erased.
    [lookup] = [i for i in table_items() if i["pk"]["S"] == f"MSG#{message_id}"]
    assert set(lookup) == {"pk", "sk", "erased", "expires_at"} and lookup["erased"] == {"BOOL": True}
    assert "p0@example.org" not in dump.lower() and "secret 0" not in dump
    assert store.guard_sk("p0@example.org") not in dump
    counters = store.get_counters(cases_event.id)
    assert counters.erased_count == 1
    # The freed seat went to the first on the waitlist.
    assert counters.seats_taken == 3 and counters.waitlisted_count == 0
    assert store.get_registration_in_event(cases_event.id, ids[3])["status"] == "confirmed"
    pump.pump_once()
    new = sent_messages()[before:]
    assert len(new) == 1  # the promotion of P3; nothing to the erased address
    assert "p3@example.org" in str(new[0].destinations) and "p0@" not in str(new[0].destinations)
    # The address may register again; a second erase finds nothing.
    again = run("registrations", "erase", cases_event.id, "--email", "p0@example.org", "--yes")
    assert again.exit_code == 1 and "Nothing to do" in again.stderr


def test_erase_leaves_no_history_and_takes_a_check_in_off_the_count(cases_event, pump):
    """Erased rows kept their waitlist ticket, promotion and cancellation history, reminders asked and
    calendar sequence, the message lookups of their emails, and still counted at the door (a
    reviewer's finding: "2 of 0 checked in" after erasing two people who had come)."""
    from chalicelib import checkin, lifecycle, store
    from tests.staff.conftest import table_items

    ids = [register(cases_event.id, **person(f"P{n}", f"p{n}@example.org")).registration_id for n in range(5)]
    pump.pump_once()
    lifecycle.cancel(cases_event.id, ids[0], by="staff")  # P3 promoted: a ticket, promoted_at, two emails
    pump.pump_once()
    promoted = store.get_registration_in_event(cases_event.id, ids[3])
    assert promoted["status"] == "confirmed" and "waitlist_ticket" in promoted and "promoted_at" in promoted
    assert len(store.message_ids(promoted)) == 2
    assert run("registrations", "checkin", cases_event.id, ids[3]).exit_code == 0
    assert run("registrations", "checkin", cases_event.id, ids[1]).exit_code == 0
    assert checkin.summary(cases_event.id).checked_in == 2

    for address in ("p3@example.org", "p0@example.org"):  # checked in and promoted; cancelled
        assert run("registrations", "erase", cases_event.id, "--email", address, "--yes").exit_code == 0
    kept = {"pk", "sk", "type", "registration_id", "event_id", "status", "language", "registered_at",
            "status_changed_at", "erased_at", "expires_at"}
    for registration_id in (ids[3], ids[0]):
        assert set(store.get_registration_in_event(cases_event.id, registration_id)) == kept
    assert checkin.summary(cases_event.id).checked_in == 1  # P1, still there
    lookups = [i for i in table_items() if i["pk"]["S"].startswith("MSG#")]
    assert {i["for_registration"]["S"] for i in lookups if "for_registration" in i} == {ids[1], ids[2], ids[4]}
    assert sum("erased" in i for i in lookups) == 4  # the erased two's four emails: only "erased" left


def test_erase_finds_the_lookup_of_an_email_a_later_one_replaced(cases_event, pump):
    """A resend (or a second "updated" email) replaces the message id in its notification: the first
    email's lookup, naming the registration, the email and when, was left behind by erasure (a reviewer's
    finding: "all 14 MSG# items"). Every id sent is kept in ``email_messages``."""
    from chalicelib import store
    from tests.staff.conftest import table_items

    registration_id = register(cases_event.id, **person("P", "p@example.org")).registration_id
    pump.pump_once()
    assert run("registrations", "resend", cases_event.id, registration_id).exit_code == 0
    pump.pump_once()
    item = store.get_registration_in_event(cases_event.id, registration_id)
    assert len(item["email_messages"]) == 2 and len(store.message_ids(item)) == 2
    assert run("registrations", "erase", cases_event.id, "--email", "p@example.org", "--yes").exit_code == 0
    lookups = [i for i in table_items() if i["pk"]["S"].startswith("MSG#")]
    assert len(lookups) == 2 and all(set(i) == {"pk", "sk", "erased", "expires_at"} for i in lookups)
    simulated = run("registrations", "simulate", cases_event.id, registration_id, "bounce")  # said "no email yet"
    assert simulated.exit_code == 1 and "was erased: it has no address and no emails any more" in simulated.stderr


def test_erase_a_waitlisted_registration_gives_back_its_place(cases_event):
    from chalicelib import store

    ids = [register(cases_event.id, **person(f"P{n}", f"p{n}@example.org")).registration_id for n in range(5)]
    result = run("registrations", "erase", cases_event.id, "--email", "p3@example.org", "--yes")
    assert result.exit_code == 0, result.output
    # registration, guard, its waitlist bucket, the counters
    assert "Erased 1 registration(s)" in result.stdout and "4 item(s) changed" in result.stdout
    counters = store.get_counters(cases_event.id)
    assert (counters.seats_taken, counters.waitlisted_count, counters.erased_count) == (3, 1, 1)
    assert store.waitlist_position(cases_event.id, 2) == 1  # P4 moved up
    erased = store.get_registration_in_event(cases_event.id, ids[3])
    assert erased["status"] == "erased" and "email" not in erased and "name" not in erased
    # The address can register again, and the export shows the erased row without personal data.
    assert register(cases_event.id, **person("P3 again", "p3@example.org")).status == "waitlisted"
    listed = run("registrations", "list", cases_event.id, "--status", "erased")
    assert listed.stdout.splitlines()[2].split()[0] == "erased" and "p3@" not in listed.stdout


def test_erase_asks_first_and_aborts_on_no(cases_event):
    from chalicelib import store

    register(cases_event.id, **person("P", "p@example.org"))
    result = run("registrations", "erase", cases_event.id, "--email", "p@example.org", input="n\n")
    assert result.exit_code == 1
    assert (f"Erase the registration data of this address for {cases_event.id} (1 registration(s) have it)? "
            "This cannot be undone. [y/N]") in result.stderr
    assert [i["status"] for i in store.iter_registrations(cases_event.id)] == ["confirmed"]


def test_cancel_asks_naming_whom_and_aborts_on_no(cases_event):
    from chalicelib import store

    registration_id = register(cases_event.id, **person("Piet Jansen", "piet@example.org")).registration_id
    result = run("registrations", "cancel", cases_event.id, registration_id, input="n\n")
    assert result.exit_code == 1
    assert (f"Cancel registration {registration_id} of Piet Jansen <piet@example.org> (confirmed) of "
            f"{cases_event.id}? [y/N]") in result.stderr
    assert store.get_registration_in_event(cases_event.id, registration_id)["status"] == "confirmed"


def test_erase_unknown_address_exits_1(cases_event):
    result = run("registrations", "erase", cases_event.id, "--email", "nobody@example.org", "--yes")
    assert result.exit_code == 1


def test_cancel_sends_the_cancellation_and_promotes(cases_event, pump):
    from chalicelib import store
    from tests.conftest import sent_messages

    ids = [register(cases_event.id, **person(f"P{n}", f"p{n}@example.org")).registration_id for n in range(4)]
    pump.pump_once()
    before = len(sent_messages())
    result = run("registrations", "cancel", cases_event.id, ids[0], "--yes")
    assert result.exit_code == 0, result.output
    assert f"Registration {ids[3]} was promoted" in result.stdout
    assert store.get_registration_in_event(cases_event.id, ids[0])["status"] == "cancelled"
    assert store.get_registration_in_event(cases_event.id, ids[3])["status"] == "confirmed"
    pump.pump_once()
    assert len(sent_messages()) - before == 2  # cancellation to P0, promotion to P3
    again = run("registrations", "cancel", cases_event.id, ids[0], "--yes")
    assert again.exit_code == 1
    # The organiser cancelled it, and the email says so (not "we are sorry you cannot make it").
    import email
    import email.policy

    texts = {str(m.destinations[0]): email.message_from_string(m.raw_data, policy=email.policy.default)
             .get_body(("plain",)).get_content() for m in sent_messages()[before:]}
    said = texts["p0@example.org"]
    assert ("De organisator heeft je inschrijving geannuleerd. Vragen? Beantwoord deze e-mail." in said
            or "The organiser has cancelled your registration. Questions? Reply to this email." in said)
    assert "Jammer dat je er niet bij kunt zijn" not in said and "sorry you cannot make it" not in said
    # Someone on the waitlist taken off by staff is told so too.
    waiting = register(cases_event.id, **person("P4", "p4@example.org"))
    assert waiting.status == "waitlisted"
    pump.pump_once()
    before = len(sent_messages())
    assert run("registrations", "cancel", cases_event.id, waiting.registration_id, "--yes").exit_code == 0
    pump.pump_once()
    [farewell] = sent_messages()[before:]
    text = email.message_from_string(farewell.raw_data, policy=email.policy.default).get_body(("plain",)).get_content()
    assert ("De organisator heeft je van de wachtlijst gehaald." in text
            or "The organiser has taken you off the waitlist." in text)


def test_cancel_unknown_registration_exits_1(cases_event):
    assert run("registrations", "cancel", cases_event.id, "nope", "--yes").exit_code == 1


@pytest.mark.case("dash-leading-id")
def test_cancel_takes_an_id_that_starts_with_a_dash(cases_event, monkeypatch):
    """Random ids start with '-' about 1 time in 64: the case's own id, given to a real registration."""
    from chalicelib import registrations, store

    dash_id = "-Ms9cA7zDP62UysOYihc-g"
    monkeypatch.setattr(registrations, "new_registration_id", lambda: dash_id)
    assert register(cases_event.id, **person("Dash", "dash@example.org")).registration_id == dash_id
    result = run("registrations", "cancel", cases_event.id, dash_id, "--yes")
    assert "No such option" not in result.output and "Usage:" not in result.output
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Cancelled registration {dash_id};")
    assert store.get_registration_in_event(cases_event.id, dash_id)["status"] == "cancelled"
    # and as copied from a CSV export, with the leading quote that keeps spreadsheets from reading a formula
    again = run("registrations", "cancel", cases_event.id, f"'{dash_id}", "--yes")
    assert again.exit_code == 1 and "Nothing to do" in again.stderr
    unknown = run("registrations", "cancel", cases_event.id, "-K_a1XpERQwW3Bcs_2M4WQ", "--yes")
    assert unknown.exit_code == 1 and "No such option" not in unknown.output  # parsed as an id: none such


@pytest.mark.case("dash-leading-id")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=21,
                    max_size=21))
def test_any_id_starting_with_a_dash_is_an_id(cases_event, tail):
    """Whatever follows the '-' (an 'h' was read as -h: help, exit 0), the token is the id: no such registration."""
    result = run("registrations", "cancel", cases_event.id, f"-{tail}", "--yes")
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: no registration -{tail} for this event\n"


def test_cancel_still_has_its_help_and_refuses_a_missing_or_extra_argument(cases_event):
    assert run("registrations", "cancel", "--help").exit_code == 0
    missing = run("registrations", "cancel", cases_event.id, "--yes")
    assert missing.exit_code == 2 and "Missing argument 'ID'" in missing.stderr
    typo = run("registrations", "cancel", cases_event.id, "some-id", "--yess")
    assert typo.exit_code == 2 and "unexpected extra argument (--yess)" in typo.stderr


@pytest.mark.case("dash-leading-id")
@pytest.mark.parametrize("command", [
    ["cancel", "{event}", "{id}", "--yes"],
    ["set-email", "{event}", "{id}", "new@example.org", "--yes"],
    ["resend", "{event}", "{id}"],
    ["simulate", "{event}", "{id}"],
    ["checkin", "{event}", "{id}"],
    ["checkin", "{event}", "{id}", "--undo"],
])
@pytest.mark.parametrize("dash_id", ["-hK_a1XpERQwW3Bcs_2M4W", "-lqvGJg6RHY9XqhhCRQD_Q", "--help"])
def test_every_command_taking_an_id_reads_a_leading_dash_as_the_id(cases_event, command, dash_id):
    """An id like ``-lqv...hh...`` was read by set-email, resend, simulate and checkin as options with
    ``-h`` among them: the help, exit 0, nothing done. Each now looks the id up (none such: exit 1)."""
    args = [part.format(event=cases_event.id, id=dash_id) for part in command]
    if dash_id == "--help":  # the command's own option keeps its meaning
        assert run("registrations", *args).exit_code == 0
        return
    result = run("registrations", *args)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: no registration {dash_id} for this event\n"


def test_erase_deletes_the_quiet_guard_a_bots_post_left_with_the_address(cases_event):
    """A honeypot post stores no registration but a quiet guard (the address's hash, until
    registration closes); the person whose address the bot used asks for erasure: it goes too."""
    from chalicelib import registrations, store

    bot = registrations.register(cases_event.id, person("Bot", "Quiet@Example.org") | {"website": "http://x"}, "nl")
    assert bot.stored is False
    key = {"pk": store.event_pk(cases_event.id), "sk": store.quiet_guard_sk("quiet@example.org")}
    assert _item(key) is not None
    result = run("registrations", "erase", cases_event.id, "--email", "quiet@example.org", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"Erased 0 registration(s) of {cases_event.id}: 1 item(s) changed, "
                             "among them 0 anonymised, 1 address guard(s) deleted.\n")
    assert _item(key) is None
    again = run("registrations", "erase", cases_event.id, "--email", "quiet@example.org", "--yes")
    assert again.exit_code == 1 and "Nothing to do" in again.stderr


def _item(key: dict) -> dict | None:
    from chalicelib import aws, store
    from chalicelib.settings import get_settings

    found = aws.client("dynamodb").get_item(TableName=get_settings().table_name, Key=store.serialize(key),
                                            ConsistentRead=True)
    return found.get("Item")


@pytest.mark.parametrize("command", [
    ["cancel", "nosuch-event", "abc", "--yes"],
    ["set-email", "nosuch-event", "abc", "anna@example.org", "--yes"],
    ["resend", "nosuch-event", "abc"],
    ["simulate", "nosuch-event", "abc"],
])
def test_a_registration_of_an_unknown_event_says_the_event_is_unknown_as_list_does(aws, command):
    """They said "Error: no registration abc for this event" for an event that does not exist."""
    listed = run("registrations", "list", "nosuch-event")
    result = run("registrations", *command)
    assert (result.exit_code, result.stderr) == (listed.exit_code, listed.stderr) == (
        1, f"Error: no event nosuch-event in table {aws['TABLE_NAME']} (stage local)\n")
    assert result.stdout == ""


def test_an_unknown_registration_of_a_known_event_is_still_named(five):
    result = run("registrations", "cancel", "staff-cases-event", "abc", "--yes")
    assert (result.exit_code, result.stderr) == (1, "Error: no registration abc for this event\n")


def test_erase_takes_an_address_as_the_export_shows_it(cases_event, tmp_path):
    """An address that starts like a formula is exported as '=cmd@...; pasted back into erase, it is found."""
    from chalicelib import store

    for address in ("=cmd@example.org", "'quote@example.org"):
        register(cases_event.id, **person("Formula", address))
    out = tmp_path / "list.csv"
    assert run("registrations", "export", cases_event.id, "-o", str(out)).exit_code == 0
    header, *rows = read_csv(out)
    shown = sorted(row[header.index("email")] for row in rows)
    assert shown == ["'=cmd@example.org", "'quote@example.org"]  # the second is the address's own quote
    for address in shown:
        result = run("registrations", "erase", cases_event.id, "--email", f" {address}\t", "--yes")  # as copied
        assert result.exit_code == 0, result.output
    assert sorted(i["status"] for i in store.iter_registrations(cases_event.id)) == ["erased", "erased"]
