"""Staff see what happened to each email, correct an address and send again (README, "Staff tools").

``registrations simulate`` hands SES's event to the RecordEmailEvents code; ``list``, the
exports and ``events show`` show the outcome; ``set-email`` moves the address guard in one
transaction; ``resend`` asks the stream-fed delivery for the latest email again; a bounced
or complaining address gets no later email.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from chalicelib import store
from tests.conftest import sent_messages
from tests.staff.conftest import person, register, run, staff_prefix

EVENT = "staff-cases-event"


def item_of(registration_id: str) -> dict:
    return store.get_registration_in_event(EVENT, registration_id)


def recipients() -> list[str]:
    """The one recipient of each email SES accepted, in order."""
    return [m.destinations[0] for m in sent_messages()]


@pytest.fixture
def anna(cases_event, pump):
    """Anna registered with a typo in her domain; her confirmation went out."""
    result = register(cases_event.id, **person("Anna", "anna@wildeganzen.nll"))
    pump.pump_once()
    assert recipients() == ["anna@wildeganzen.nll"]
    return result.registration_id


def csv_rows(path) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes()[3:].decode("utf-8"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_a_simulated_bounce_shows_in_the_list_the_export_and_the_counts(anna, tmp_path):
    result = run("registrations", "simulate", EVENT, anna, "bounce")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"Simulated a bounce of the registered email of registration {anna}: bounced, "
                             "recorded.\n")

    listed = run("registrations", "list", EVENT)
    assert listed.exit_code == 0
    header, _, row = listed.stdout.splitlines()[:3]
    assert header.split() == ["status", "pos", "name", "email", "registered", "checked", "in", "email", "outcome", "id"]
    assert row.split()[-3:] == ["sent", "bounced", anna]
    assert (f"The registered email of {anna} (anna@wildeganzen.nll) bounced permanently on" in listed.stderr
            and ": smtp; 550 5.1.1 user unknown (simulated)." in listed.stderr)
    assert listed.stderr.splitlines()[-1] == (  # pasted as printed, the hint reaches the same table
        f"Correct an address with: {staff_prefix('--stage', 'local')} registrations set-email {EVENT} ID ADDRESS; "
        f"then send the email again with: {staff_prefix('--stage', 'local')} registrations resend {EVENT} ID")

    out = tmp_path / "list.csv"
    assert run("registrations", "export", EVENT, "-o", str(out)).exit_code == 0
    (exported,) = csv_rows(out)
    assert (exported["email"], exported["email_state"], exported["email_outcome"]) == (
        "anna@wildeganzen.nll", "sent", "bounced")

    shown = json.loads(run("events", "show", EVENT, "--json").stdout)
    assert (shown["emails_bounced"], shown["emails_bounced_transient"], shown["emails_complained"],
            shown["emails_suppressed"], shown["emails_failed"]) == (1, 0, 0, 0, 0)
    text = run("events", "show", EVENT).stdout
    assert "bounced:       1 permanently, 0 transiently" in text and "complained:    0" in text


def test_counts_of_complaints_and_transient_bounces(cases_event, pump):
    ids = [register(cases_event.id, **person(name, f"{name}@example.org")).registration_id
           for name in ("a", "b", "c")]
    pump.pump_once()
    assert run("registrations", "simulate", EVENT, ids[0], "complaint").exit_code == 0
    assert run("registrations", "simulate", EVENT, ids[1], "transient-bounce").exit_code == 0
    assert run("registrations", "simulate", EVENT, ids[2], "delivery").exit_code == 0
    shown = json.loads(run("events", "show", EVENT, "--json").stdout)
    assert (shown["emails_bounced"], shown["emails_bounced_transient"], shown["emails_complained"]) == (0, 1, 1)


def test_simulate_is_for_the_local_stage_only(anna):
    from staff.cli import cli

    result = CliRunner().invoke(cli, ["--stage", "dev", "--table", "registrations-local", "registrations", "simulate",
                                      EVENT, anna], catch_exceptions=False)
    assert result.exit_code == 2
    assert "bounce@simulator.amazonses.com" in result.output


def test_simulate_before_any_email_was_sent_exits_1(cases_event):
    result = register(cases_event.id, **person("Nog", "nog@example.org"))
    answer = run("registrations", "simulate", EVENT, result.registration_id)
    assert answer.exit_code == 1 and "no email sent yet" in answer.stderr


# -- suppression ------------------------------------------------------------------------------------------


def test_a_bounced_address_gets_no_later_email_and_the_registration_stays(anna, pump):
    run("registrations", "simulate", EVENT, anna, "bounce")
    assert run("registrations", "cancel", EVENT, anna, "--yes").exit_code == 0
    pump.pump_once()
    item = item_of(anna)
    assert item["status"] == "cancelled"  # the cancellation itself happened
    cancelled = item["notifications"]["cancelled"]
    assert cancelled["state"] == "suppressed" and "message_id" not in cancelled
    assert cancelled["reason"].startswith("the address bounced permanently on ")
    assert item["email_state"] == "suppressed"
    assert recipients() == ["anna@wildeganzen.nll"]  # nothing more was sent
    shown = json.loads(run("events", "show", EVENT, "--json").stdout)
    assert shown["emails_suppressed"] == 1
    assert "Not sent: the cancelled email of" in run("registrations", "list", EVENT).stderr


def test_a_complaining_address_gets_no_promotion_email(cases_event, pump):
    """Capacity 3: the fourth waits; it complained about its waitlist email, then a seat frees up."""
    ids = [register(cases_event.id, **person(f"p{n}", f"p{n}@example.org")).registration_id for n in range(4)]
    pump.pump_once()
    assert item_of(ids[3])["status"] == "waitlisted"
    run("registrations", "simulate", EVENT, ids[3], "complaint")
    run("registrations", "cancel", EVENT, ids[0], "--yes")
    pump.pump_once()
    promoted = item_of(ids[3])
    assert promoted["status"] == "confirmed"
    assert promoted["notifications"]["promoted"]["state"] == "suppressed"
    assert promoted["notifications"]["promoted"]["reason"].startswith("the address complained")
    assert "p3@example.org" not in recipients()[4:]  # the cancellation went to p0, nothing to p3


def test_a_transient_bounce_does_not_stop_later_emails(anna, pump):
    run("registrations", "simulate", EVENT, anna, "transient-bounce")
    run("registrations", "cancel", EVENT, anna, "--yes")
    pump.pump_once()
    assert item_of(anna)["notifications"]["cancelled"]["state"] == "sent"
    assert recipients() == ["anna@wildeganzen.nll", "anna@wildeganzen.nll"]


# -- set-email ---------------------------------------------------------------------------------------------


def test_set_email_moves_the_guard_and_clears_what_was_known_of_the_old_address(anna):
    run("registrations", "simulate", EVENT, anna, "bounce")
    result = run("registrations", "set-email", EVENT, anna, "anna@wildeganzen.nl", "--yes")
    assert result.exit_code == 0, result.output
    assert f"registrations resend {EVENT} {anna}" in result.stdout
    item = item_of(anna)
    assert item["email"] == "anna@wildeganzen.nl" and "email_changed_at" in item
    for gone in ("email_outcome", "email_suppressed", "email_message_id"):
        assert gone not in item
    assert item["notifications"]["registered"]["feedback"]["outcome"] == "bounced"  # history stays
    assert store.address_taken(EVENT, "anna@wildeganzen.nl", now=0)
    assert not store.address_taken(EVENT, "anna@wildeganzen.nll", now=0)
    guard = store.table._exists({"pk": store.event_pk(EVENT), "sk": store.guard_sk("ANNA@wildeganzen.nl")})
    assert guard["for_registration"] == anna and guard["expires_at"] == item["expires_at"]


def test_set_email_to_a_taken_address_exits_1_and_changes_nothing(anna, cases_event):
    other = register(cases_event.id, **person("Bram", "bram@example.org"))
    before = item_of(anna)
    result = run("registrations", "set-email", EVENT, anna, "BRAM@example.org", "--yes")
    assert result.exit_code == 1
    assert "BRAM@example.org is already registered for staff-cases-event" in result.stderr
    assert item_of(anna) == before
    guard = store.table._exists({"pk": store.event_pk(EVENT), "sk": store.guard_sk("anna@wildeganzen.nll")})
    assert guard["for_registration"] == anna
    assert store.table._exists({"pk": store.event_pk(EVENT),
                          "sk": store.guard_sk("bram@example.org")})["for_registration"] == other.registration_id


@pytest.mark.parametrize("address", ["not-an-address", "anna@", "=?utf-8?q?x?=@example.org", "änna@example.org"])
def test_set_email_refuses_an_address_registering_would_refuse(anna, address):
    result = run("registrations", "set-email", EVENT, anna, address, "--yes")
    assert result.exit_code == 2 and "invalid address" in result.stderr
    assert item_of(anna)["email"] == "anna@wildeganzen.nll"


def test_set_email_of_a_cancelled_or_unknown_registration_exits_1(anna, pump):
    run("registrations", "cancel", EVENT, anna, "--yes")
    assert run("registrations", "set-email", EVENT, anna, "x@example.org", "--yes").exit_code == 1
    assert run("registrations", "set-email", EVENT, "nope", "x@example.org", "--yes").exit_code == 1


def test_the_same_address_given_again_lifts_the_suppression(anna):
    run("registrations", "simulate", EVENT, anna, "bounce")
    assert run("registrations", "resend", EVENT, anna).exit_code == 1
    assert run("registrations", "set-email", EVENT, anna, "anna@wildeganzen.nll", "--yes").exit_code == 0
    assert store.suppression_reason(item_of(anna)) is None
    assert run("registrations", "resend", EVENT, anna).exit_code == 0


def test_set_email_before_the_first_email_went_out_sends_it_to_the_new_address(cases_event, pump):
    """The stream record holds the old address; the claim's condition sees the change."""
    result = register(cases_event.id, **person("Cor", "cor@typo.nll"))
    assert run("registrations", "set-email", EVENT, result.registration_id, "cor@example.org", "--yes").exit_code == 0
    pump.pump_once()
    assert recipients() == ["cor@example.org"]
    assert item_of(result.registration_id)["notifications"]["registered"]["state"] == "sent"


# -- resend ------------------------------------------------------------------------------------------------


def test_resend_after_a_correction_sends_the_latest_email_to_the_new_address(anna, pump):
    first_message = item_of(anna)["email_message_id"]
    run("registrations", "simulate", EVENT, anna, "bounce")
    refused = run("registrations", "resend", EVENT, anna)
    assert refused.exit_code == 1 and "the address bounced permanently" in refused.stderr
    assert "registrations set-email" in refused.stderr
    run("registrations", "set-email", EVENT, anna, "anna@wildeganzen.nl", "--yes")
    result = run("registrations", "resend", EVENT, anna)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"The registered email of registration {anna} will be sent again in a moment.\n"
    assert item_of(anna)["notifications"]["registered"] == {
        "state": "pending", "at": item_of(anna)["notifications"]["registered"]["at"], "resent": 1,
        "previous": {"message_id": first_message, "outcome": "bounced", "state": "sent"},
        "sequence": 0}  # the same calendar message again (README, "Emails")
    pump.pump_once()
    assert recipients() == ["anna@wildeganzen.nll", "anna@wildeganzen.nl"]
    item = item_of(anna)
    assert item["notifications"]["registered"]["state"] == "sent"
    assert item["email_message_id"] == sent_messages()[-1].id != first_message
    assert store.find_message(item["email_message_id"])["notification"] == "registered"
    # the resent email is a confirmation like the first, to the corrected address
    from email import message_from_string
    from email.policy import default

    message = message_from_string(sent_messages()[-1].raw_data, policy=default)
    assert message["To"].addresses[0].addr_spec == "anna@wildeganzen.nl"
    assert message["Subject"].startswith("Bevestiging:")
    listed = run("registrations", "list", EVENT)
    assert listed.stdout.splitlines()[2].split()[-2:] == ["sent", anna]  # no outcome yet for the new email


def test_resend_while_an_email_is_on_its_way_exits_1(cases_event):
    result = register(cases_event.id, **person("Dirk", "dirk@example.org"))
    answer = run("registrations", "resend", EVENT, result.registration_id)
    assert answer.exit_code == 1 and "is on its way" in answer.stderr


def test_resend_sends_the_latest_kind_of_email(cases_event, pump):
    """A promoted registrant gets the promotion again, with a seat in it."""
    ids = [register(cases_event.id, **person(f"q{n}", f"q{n}@example.org")).registration_id for n in range(4)]
    pump.pump_once()
    run("registrations", "cancel", EVENT, ids[0], "--yes")
    pump.pump_once()
    answer = run("registrations", "resend", EVENT, ids[3])
    assert answer.exit_code == 0 and "The promoted email" in answer.stdout
    count = len(sent_messages())
    pump.pump_once()
    assert len(sent_messages()) == count + 1 and recipients()[-1] == "q3@example.org"


def test_resend_of_an_unknown_or_erased_registration_exits_1(anna):
    assert run("registrations", "resend", EVENT, "nope").exit_code == 1
    run("registrations", "erase", EVENT, "--email", "anna@wildeganzen.nll", "--yes")
    assert run("registrations", "resend", EVENT, anna).exit_code == 1


# -- the exports read from a table export ------------------------------------------------------------------


def test_exports_convert_and_query_carry_the_outcome(anna, cases_event, pump, tmp_path):
    other = register(cases_event.id, **person("Bram", "bram@example.org")).registration_id
    pump.pump_once()
    run("registrations", "simulate", EVENT, anna, "bounce")
    run("registrations", "simulate", EVENT, other, "delivery")
    assert run("exports", "start", "--wait").exit_code == 0
    source = "s3://registrations-local-exports/exports/registrations-local"
    out = tmp_path / "export.csv"
    assert run("exports", "convert", source, "--event", EVENT, "-o", str(out)).exit_code == 0
    assert {row["name"]: row["email_outcome"] for row in csv_rows(out)} == {"Anna": "bounced", "Bram": "delivered"}
    query = run("exports", "query", source, "--event", EVENT, "--csv",
                "SELECT email_outcome, count(*) AS n FROM registrations GROUP BY 1 ORDER BY 1")
    assert query.exit_code == 0, query.output
    assert query.stdout.splitlines() == ["email_outcome,n", "bounced,1", "delivered,1"]


def test_a_correction_after_the_bounce_wins_over_a_stream_record_that_predates_it(cases_event, pump):
    """The promotion's stream record still shows the bounced address and its suppression; staff corrected
    the address before the delivery ran: the promotion goes to the corrected address, not suppressed."""
    ids = [register(cases_event.id, **person(f"r{n}", f"r{n}@example.org")).registration_id for n in range(4)]
    pump.pump_once()
    run("registrations", "simulate", EVENT, ids[3], "bounce")
    run("registrations", "cancel", EVENT, ids[0], "--yes")  # r3 is promoted: a record with the marker in it
    assert run("registrations", "set-email", EVENT, ids[3], "r3@corrected.example", "--yes").exit_code == 0
    pump.pump_once()
    promoted = item_of(ids[3])["notifications"]["promoted"]
    assert promoted["state"] == "sent"
    assert sorted(recipients()[-2:]) == ["r0@example.org", "r3@corrected.example"]


def test_set_email_and_a_suppressed_resend_print_their_next_command_as_given(anna):
    moved = run("registrations", "set-email", EVENT, anna, "anna@wildeganzen.nl", "--yes")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.endswith(
        f"Send the latest email again with: {staff_prefix('--stage', 'local')} registrations resend {EVENT} {anna}\n")


def test_a_local_hint_carries_the_ports_it_was_run_with(monkeypatch):
    """``--local`` hints name make run's ports (PORT for door links, AWS_PORT for the stand-in)."""
    import click

    from staff.commands.running import staff_command

    monkeypatch.setenv("PORT", "8771")
    monkeypatch.setenv("AWS_PORT", "8772")
    with click.Context(click.Command("x"), obj={"local": True, "stage": None, "table": None}):
        assert staff_command("registrations", "resend", "ev", "-id") == (
            f"PORT=8771 AWS_PORT=8772 {staff_prefix('--local')} registrations resend ev -id")
