"""A changed time or place reaches every registration holding or awaiting a seat (README, "Emails", event changes).

Staff publish a changed definition (``staff events put``, ``make run`` loading a changed file); each
confirmed or waitlisted registration gets one ``updated`` email in its language, saying what changed,
through the stream-fed delivery, with a calendar REQUEST and a higher SEQUENCE for those with a seat.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta

from chalicelib import lifecycle, registrations, store, tokens
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json, sent_messages
from tests.test_aws_budgets import aws_calls
from tests.test_capacity import small_event


def register(client, address: str, **fields) -> str:
    answer = post_json(client, partos_registration(email=address, **fields))
    assert answer.status_code == 201, answer.body
    return json.loads(answer.body)["registration_id"]


def mails() -> list[email.message.EmailMessage]:
    return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in sent_messages()]


def to(message) -> str:
    return message["To"].addresses[0].addr_spec


def calendar_of(message) -> str | None:
    found = [p.get_content() for p in message.walk() if p.get_content_type() == "text/calendar"]
    return found[0] if found else None


def publish(event, **changes):
    """``staff events put`` of ``event`` with ``changes``, without its settling wait."""
    from staff.operations import put_event

    return put_event(event.model_copy(update=changes), settle=0)


def later(event, hours: int = 1):
    return {"starts_at": event.starts_at + timedelta(hours=hours), "ends_at": event.ends_at + timedelta(hours=hours)}


def test_a_new_time_tells_every_seat_holder_and_waiting_registrant_in_their_language(client, aws, pump):
    event = small_event(2)
    anna = register(client, "anna@example.org")
    ben = register(client, "ben@example.org", language="en")
    cas = register(client, "cas@example.org", language="en")  # waitlisted
    dirk = register(client, "dirk@example.org")  # waitlisted, then cancelled: told nothing
    pump.pump_once()
    answer = client.http.post(f"/registrations/{dirk}/cancel", headers={"Content-Type": "application/json"},
                              body=json.dumps({"token": tokens.make_token(dirk, tokens.CANCEL)}))
    assert answer.status_code == 200
    pump.pump_once()
    before = len(sent_messages())

    outcome = publish(event, **later(event))
    assert (outcome.changed, outcome.told) == (("time",), 3)
    pump.pump_once()
    updates = mails()[before:]
    assert sorted(to(m) for m in updates) == ["anna@example.org", "ben@example.org", "cas@example.org"]
    by_address = {to(m): m for m in updates}

    anna_mail = by_address["anna@example.org"]
    assert anna_mail["Subject"] == "Gewijzigd: Workshop Best Practices ‘Engagement en mobilisatie’"
    text = anna_mail.get_body(("plain",)).get_content()
    assert "De tijd van het evenement is gewijzigd." in text
    assert "Je inschrijving blijft staan: je hebt nog steeds een plek." in text
    assert "Wanneer: maandag 5 juni 2023, 15:00-18:00 CEST" in text
    assert "Eerdere tijd: maandag 5 juni 2023, 14:00-17:00 CEST" in text
    assert "Eerdere plaats" not in text
    assert "pas die afspraak dan zelf aan" in text.lower()  # a self-added entry does not move by itself
    assert "METHOD:REQUEST" in calendar_of(anna_mail) and "SEQUENCE:1" in calendar_of(anna_mail)

    ben_text = by_address["ben@example.org"].get_body(("plain",)).get_content()
    assert by_address["ben@example.org"]["Subject"].startswith("Changed: ")
    assert "The time of the event has changed." in ben_text
    assert "Earlier time: Monday, June 5, 2023, 14:00-17:00 CEST" in ben_text

    cas_mail = by_address["cas@example.org"]
    cas_text = cas_mail.get_body(("plain",)).get_content()
    assert "You are still on the waitlist, at position 1." in cas_text
    assert calendar_of(cas_mail) is None and not list(cas_mail.iter_attachments())  # no seat, no entry
    assert "Leave the waitlist" in cas_mail.get_body(("html",)).get_content()

    for registration_id, sequence in ((anna, 1), (ben, 1), (cas, 1)):
        item = store.get_registration_in_event(SEED_EVENT_ID, registration_id)
        assert item[store.SCHEDULE_REVISION] == 1 and item[store.INVITE_SEQUENCE] == sequence
        assert item["notifications"]["updated"]["state"] == "sent"
    dirk_item = store.get_registration_in_event(SEED_EVENT_ID, dirk)
    assert "updated" not in dirk_item["notifications"] and dirk_item[store.SCHEDULE_REVISION] == 0


def test_a_new_place_says_where_it_was(client, seed_event, pump):
    register(client, "anna@example.org", language="en")
    pump.pump_once()
    publish(seed_event, location=seed_event.location.model_copy(update={"address": "Keizersgracht 1"}))
    pump.pump_once()
    [_, update] = mails()
    text = update.get_body(("plain",)).get_content()
    assert "The place of the event has changed." in text
    assert "Where: Partos, Keizersgracht 1, Amsterdam" in text
    assert "Earlier place: Partos, Ellermanstraat 18b, Amsterdam" in text
    assert "Earlier time" not in text
    html = update.get_body(("html",)).get_content()
    assert "Earlier place" in html and "Keizersgracht 1" in html


def test_other_changes_and_the_same_file_again_send_nothing(client, seed_event, pump):
    register(client, "anna@example.org")
    pump.pump_once()
    title = seed_event.title.model_copy(update={"nl": "Nieuwe titel"})
    assert publish(seed_event, title=title, capacity=50).changed == ()
    assert publish(seed_event).changed == ()
    pump.pump_once()
    assert len(sent_messages()) == 1
    assert store.event_schedules(SEED_EVENT_ID)[0] == 0


def test_publishing_again_tells_nobody_twice_and_finishes_a_cut_short_announcement(client, seed_event, pump):
    ids = [register(client, f"p{i}@example.org") for i in range(4)]
    pump.pump_once()
    changed = seed_event.model_copy(update=later(seed_event))
    store.put_event(changed)  # stored, then the announcement was cut short: nobody told yet
    assert store.event_schedules(SEED_EVENT_ID)[0] == 1
    first = publish(changed)  # the same file again: nothing new to store, but the announcement is finished
    assert (first.changed, first.told) == ((), 4)
    again = publish(changed)
    assert (again.changed, again.told) == ((), 0)
    pump.pump_once()
    pump.pump_once()
    assert len(sent_messages()) == 8  # 4 confirmations, 4 updates: one each
    assert {store.get_registration_in_event(SEED_EVENT_ID, i)[store.SCHEDULE_REVISION] for i in ids} == {1}


def test_two_changes_before_delivery_send_one_email_naming_both(client, seed_event, pump):
    register(client, "anna@example.org", language="en")
    pump.pump_once()
    moved = seed_event.model_copy(update=later(seed_event))
    publish(moved)
    publish(moved, location=moved.location.model_copy(update={"city": "Utrecht"}))
    pump.pump_once()  # the first change's stream record finds its entry replaced: it claims nothing
    [_, update] = mails()
    text = update.get_body(("plain",)).get_content()
    assert "The time and the place of the event have changed." in text
    assert "Earlier time: Monday, June 5, 2023, 14:00-17:00 CEST" in text
    assert "Earlier place: Partos, Ellermanstraat 18b, Amsterdam" in text
    assert "Where: Partos, Ellermanstraat 18b, Utrecht" in text
    assert "SEQUENCE:2" in calendar_of(update)


def test_the_fan_out_is_a_query_of_the_event_and_one_conditional_write_each(client, seed_event, pump):
    for i in range(3):
        register(client, f"p{i}@example.org")
    store.put_event(seed_event.model_copy(update=later(seed_event)))
    with aws_calls() as calls:
        assert lifecycle.announce_schedule(SEED_EVENT_ID) == 3
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.Query": 1, "dynamodb.UpdateItem": 3}  # never a Scan


def test_a_registration_that_changed_meanwhile_is_read_again(client, seed_event, pump):
    anna = register(client, "anna@example.org")
    stale = store.get_registration_in_event(SEED_EVENT_ID, anna)
    store.put_event(seed_event.model_copy(update=later(seed_event)))
    revision, history = store.event_schedules(SEED_EVENT_ID)
    cancelled = client.http.post(f"/registrations/{anna}/cancel", headers={"Content-Type": "application/json"},
                                 body=json.dumps({"token": tokens.make_token(anna, tokens.CANCEL)}))
    assert cancelled.status_code == 200
    # the copy read before the cancel fails its condition; the registration as it is now is cancelled
    assert lifecycle._tell(stale, revision, history, "2023-05-22T09:00:00+00:00") is False
    item = store.get_registration_in_event(SEED_EVENT_ID, anna)
    assert "updated" not in item["notifications"] and item[store.INVITE_SEQUENCE] == 1


def test_a_registration_made_with_the_old_definition_is_told_on_the_second_pass(client, seed_event, pump, monkeypatch):
    """An instance that kept the old definition a few seconds registers someone just after the change."""
    old = seed_event

    def meanwhile(seconds):
        assert seconds == 0.5
        store.events._remember(old, 0)  # that instance's copy, from before the change
        registrations.register(SEED_EVENT_ID, partos_registration(email="late@example.org"), "nl", event=old)

    monkeypatch.setattr(lifecycle.time, "sleep", meanwhile)
    store.put_event(seed_event.model_copy(update=later(seed_event)))
    assert lifecycle.announce_schedule(SEED_EVENT_ID, settle=0.5) == 1
    late = next(store.iter_registrations(SEED_EVENT_ID, consistent=True))
    assert late[store.SCHEDULE_REVISION] == 1 and late["notifications"]["updated"]["state"] == "pending"
    pump.pump_once()
    subjects = sorted(m["Subject"].split(":")[0] for m in mails())
    assert subjects == ["Bevestiging", "Gewijzigd"]
    # whatever the confirmation showed, the update is built from a definition at least as new as the change
    update = next(m for m in mails() if m["Subject"].startswith("Gewijzigd"))
    text = update.get_body(("plain",)).get_content()
    assert "Wanneer: maandag 5 juni 2023, 15:00-18:00 CEST" in text
    assert "Eerdere tijd: maandag 5 juni 2023, 14:00-17:00 CEST" in text


def test_staff_events_put_says_what_changed_and_how_many_were_told(client, seed_event, pump, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from staff.cli import cli

    monkeypatch.setattr(lifecycle, "SETTLE_SECONDS", 0.0)
    register(client, "anna@example.org")
    import shutil

    shutil.copytree(EVENTS_DIR / "assets", tmp_path / "assets")  # the logo the file names
    source = tmp_path / f"{SEED_EVENT_ID}.yaml"
    text = (EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").read_text()
    assert "starts_at: 2023-06-05T14:00:00" in text
    source.write_text(text.replace("starts_at: 2023-06-05T14:00:00", "starts_at: 2023-06-05T13:30:00"))
    result = CliRunner().invoke(cli, ["--stage", "local", "events", "put", "--yes", str(source)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Changed: time." in result.output
    assert "Told 1 registration(s) of the change (their emails follow)." in result.output


# -- an update goes through SES feedback's delivery: suppression, configuration set, lookup, resend ------------


def test_an_update_to_a_suppressed_address_is_recorded_suppressed_and_not_sent(client, seed_event, pump):
    from chalicelib import entry_feedback, feedback

    anna = register(client, "anna@wildeganzen.nll")
    ben = register(client, "ben@example.org")
    pump.pump_once()
    item = store.get_registration_in_event(SEED_EVENT_ID, anna)
    bounce = feedback.simulated_event(item["email_message_id"], "anna@wildeganzen.nll", "bounce")
    assert entry_feedback.handler(bounce, None) == {"result": "recorded", "outcome": "bounced"}

    publish(seed_event, **later(seed_event))
    pump.pump_once()
    assert [to(m) for m in mails()[2:]] == ["ben@example.org"]  # anna's bounced address gets nothing
    updated = store.get_registration_in_event(SEED_EVENT_ID, anna)["notifications"]["updated"]
    assert updated["state"] == "suppressed" and updated["sequence"] == 1
    assert "bounced" in updated["reason"]
    assert store.get_registration_in_event(SEED_EVENT_ID, ben)["notifications"]["updated"]["state"] == "sent"


def test_an_update_names_the_configuration_set_and_leaves_its_message_lookup(client, seed_event, pump):
    from chalicelib import aws

    anna = register(client, "anna@example.org")
    pump.pump_once()
    seen = []

    def capture(params, **_):
        seen.append(params.get("ConfigurationSetName"))

    aws.client("sesv2").meta.events.register("provide-client-params.sesv2.SendEmail", capture)
    try:
        publish(seed_event, **later(seed_event))
        pump.pump_once()
    finally:
        aws.client("sesv2").meta.events.unregister("provide-client-params.sesv2.SendEmail", capture)
    assert seen == ["registrations-local"]
    item = store.get_registration_in_event(SEED_EVENT_ID, anna)
    entry = item["notifications"]["updated"]
    assert (entry["state"], entry["sequence"]) == ("sent", 1)
    assert entry["message_id"] == item["email_message_id"] == sent_messages()[-1].id
    assert store.find_message(entry["message_id"])["notification"] == "updated"


def test_a_resent_update_is_the_same_calendar_message_again(client, seed_event, pump):
    from chalicelib import clock

    anna = register(client, "anna@example.org", language="en")
    pump.pump_once()
    publish(seed_event, **later(seed_event))
    pump.pump_once()
    assert store.request_resend(SEED_EVENT_ID, anna, at=clock.now()) == "updated"
    pump.pump_once()
    [_, first, again] = mails()
    assert again["Subject"] == first["Subject"] and str(again["Subject"]).startswith("Changed: ")
    assert "SEQUENCE:1" in calendar_of(first) and "SEQUENCE:1" in calendar_of(again)
    assert "METHOD:REQUEST" in calendar_of(again)
    assert "When: Monday, June 5, 2023, 15:00-18:00 CEST" in again.get_body(("plain",)).get_content()
    entry = store.get_registration_in_event(SEED_EVENT_ID, anna)["notifications"]["updated"]
    assert (entry["state"], entry["sequence"]) == ("sent", 1)


def test_an_update_still_waiting_is_replaced_by_the_next_change_and_only_the_newer_is_sent(client, seed_event, pump):
    """A newer ``updated`` entry (another sequence) counts as new though the older one was still pending;
    the older stream record then finds its entry replaced and claims nothing."""
    anna = register(client, "anna@example.org")
    pump.pump_once()
    moved = seed_event.model_copy(update=later(seed_event))
    publish(moved)
    publish(moved, **later(moved))
    records = pump._new_records(advance=False)
    from chalicelib import delivery

    changes = [delivery.change_of(r) for r in records]
    assert [(c[0], c[1]["notifications"]["updated"]["sequence"]) for c in changes if c] == [
        ("updated", 1),
        ("updated", 2),
    ]
    pump.pump_once()
    [_, update] = mails()
    assert "SEQUENCE:2" in calendar_of(update)
    entry = store.get_registration_in_event(SEED_EVENT_ID, anna)["notifications"]["updated"]
    assert (entry["state"], entry["sequence"]) == ("sent", 2)


def _expiries() -> dict[tuple[str, str], int]:
    """``(pk, sk) -> expires_at`` of every item that carries a TTL (a test's Scan)."""
    from tests.staff.conftest import table_items

    return {(i["pk"]["S"], i["sk"]["S"]): int(i["expires_at"]["N"]) for i in table_items() if "expires_at" in i}


def test_moving_the_event_moves_the_expiry_of_everything_stored_for_it(client, aws, pump):
    """README, "Storage": ``expires_at`` is the event's end plus RETENTION_DAYS. An event moved a year
    later kept its registrations' old time: DynamoDB would have deleted them, their address guards
    and message lookups 9 months before the event they had just been told about (a reviewer's finding)."""
    from chalicelib.settings import get_settings

    event = small_event(1)
    anna = register(client, "anna@example.org")
    register(client, "ben@example.org")  # waitlisted: a waitlist bucket
    assert post_json(client, partos_registration(email="bot@example.org", website="http://spam.example")
                     ).status_code == 201  # a honeypot post: a quiet guard, until registration closes
    pump.pump_once()  # the emails: a message lookup item each
    days = get_settings().retention_days
    before = _expiries()
    kinds = {sk.split("#")[0] + "#" if not pk.startswith("MSG#") else "MSG#" for pk, sk in before}
    assert kinds == {"REG#", "EMAIL#", "WAITLIST#", "QUIET#", "MSG#"}
    assert set(before.values()) == {event.retention_until(days), int(event.utc(event.closes_at_local).timestamp())}

    moved = event.model_copy(update={"starts_at": event.starts_at + timedelta(days=365),
                                     "ends_at": event.ends_at + timedelta(days=365),
                                     "registration_closes_at": event.closes_at_local + timedelta(days=365)})
    outcome = publish(moved)
    assert outcome.restamped == len(before)
    after = _expiries()
    assert set(after) == set(before)
    for (pk, sk), expires_at in after.items():
        closes = int(moved.utc(moved.closes_at_local).timestamp())
        assert expires_at == (closes if sk.startswith("QUIET#") else moved.retention_until(days)), (pk, sk)
    assert moved.retention_until(days) - event.retention_until(days) == 365 * 86400

    pump.pump_once()  # the "updated" emails of the move: their lookups expire with the moved event
    assert {e for (pk, _), e in _expiries().items() if pk.startswith("MSG#")} == {moved.retention_until(days)}
    assert publish(moved).restamped == 0  # nothing differs: nothing written
    back = publish(event)  # moved back earlier: shorter again, as promised
    now_stored = _expiries()  # what was there before, and the lookups of the two "updated" emails
    assert back.restamped == len(now_stored) == len(before) + 2
    closes = int(event.utc(event.closes_at_local).timestamp())
    assert {k: v for k, v in now_stored.items() if k in before} == before
    assert {v for k, v in now_stored.items() if k[1].startswith("QUIET#") is False} <= {event.retention_until(days)}
    assert [v for k, v in now_stored.items() if k[1].startswith("QUIET#")] == [closes]
    assert store.get_registration_in_event(SEED_EVENT_ID, anna)["expires_at"] == event.retention_until(days)
