"""``events put`` of a file that would move the event into the past (README, "Event files", times in
the past; "Storage", the expiry floor), its ``--dry-run`` preview and its question before it emails
registrants (README, "Staff tools").

A tester's find: ``starts_at: 2022-06-27T14:00`` (for 2023) went straight through. It emailed every
registrant "Changed" to a 2022 date, the waitlist cutoff job told those waiting that no seat came free
(irreversible), and every item's ``expires_at`` moved into the past, so DynamoDB's TTL would have
deleted the registrations. The service's clock here is the local stage's pinned ``APP_CLOCK``
(2023-05-22T09:00+02:00), through the staff CLI on moto.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from chalicelib import clock, jobs, lifecycle, store
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration
from tests.staff.conftest import run, table_items

SEED_TEXT = (EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").read_text(encoding="utf-8")
START, END = "starts_at: 2023-06-05T14:00:00", "ends_at: 2023-06-05T17:00:00"


def seed_file(folder: Path, *replacements: tuple[str, str]) -> Path:
    """The seed event's file (capacity 2 with its waitlist) in ``folder`` with ``replacements`` made."""
    text = SEED_TEXT.replace("capacity: 40", "capacity: 2")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    if not (folder / "assets").exists():
        shutil.copytree(EVENTS_DIR / "assets", folder / "assets")  # the logo the file names
    path = folder / f"{SEED_EVENT_ID}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def pinned(text: str) -> str:
    """``text`` with the service's clock reading (``now 2023-05-22T09:00``, which runs on at real speed from
    when the test process started) written as ``now <clock>``: no assertion depends on how long tests take."""
    return re.sub(r"now 2023-05-22T\d\d:\d\d ", "now <clock> ", text)


def expiries() -> dict[tuple[str, str], int]:
    """``(pk, sk) -> expires_at`` of every item with a TTL (a test's Scan)."""
    return {(i["pk"]["S"], i["sk"]["S"]): int(i["expires_at"]["N"]) for i in table_items() if "expires_at" in i}


@pytest.fixture
def four_registered(aws, tmp_path, monkeypatch):
    """The seed event published from its file with 2 seats; 2 confirmed and 2 waitlisted registrations."""
    from chalicelib import registrations

    monkeypatch.setattr(lifecycle, "SETTLE_SECONDS", 0.0)
    created = run("events", "put", str(seed_file(tmp_path)))
    assert created.exit_code == 0, created.output
    statuses = [registrations.register(SEED_EVENT_ID, partos_registration(email=f"p{n}@example.org"), "nl").status
                for n in range(4)]
    assert statuses == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    return tmp_path


def test_a_year_typo_is_refused_and_nothing_is_written(four_registered):
    before_items = expiries()
    before_event = store.get_event_item(SEED_EVENT_ID, consistent=True)
    before_catalogue = list(store.catalogue_entries())
    typo = seed_file(four_registered, (START, "starts_at: 2022-06-27T14:00"), (END, "ends_at: 2022-06-27T17:00"))

    result = run("events", "put", str(typo))

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert pinned(result.stderr) == (
        f"Error: {typo}: starts_at: 2022-06-27T14:00 has passed by the service's clock (now <clock> "
        "Europe/Amsterdam), while the stored event starts 2023-06-05T14:00: publishing would move it into the past "
        "and tell its registrants so. Check the date, the year above all; if you mean it, run events put again "
        "with --allow-past\n")
    assert store.get_event_item(SEED_EVENT_ID, consistent=True) == before_event
    assert list(store.catalogue_entries()) == before_catalogue
    assert expiries() == before_items
    for item in store.iter_registrations(SEED_EVENT_ID, consistent=True):
        assert "updated" not in item["notifications"], item["registration_id"]
    # The scheduled function finds nothing due: nobody waiting is told that no seat came free.
    jobs.run_due(clock.now())
    waiting = [i for i in store.iter_registrations(SEED_EVENT_ID, consistent=True) if i["status"] == "waitlisted"]
    assert len(waiting) == 2 and all("waitlist_closed" not in i["notifications"] for i in waiting)


def test_a_waitlist_cutoff_typed_into_the_past_is_refused(four_registered):
    typo = seed_file(four_registered, ("waitlist: true", "waitlist: true\nwaitlist_closes_at: 2022-06-05T14:00"))
    result = run("events", "put", str(typo))
    assert result.exit_code == 2, result.output
    assert pinned(result.stderr).startswith(f"Error: {typo}: waitlist_closes_at: 2022-06-05T14:00 has passed by the "
                                    "service's clock (now <clock> Europe/Amsterdam), while the stored "
                                    "waitlist cutoff is 2023-06-05T14:00: everyone still waiting would be told at "
                                    "once that no seat came free, which cannot be taken back")
    assert store.event_definition(SEED_EVENT_ID).waitlist_closes_at is None


def test_an_end_moved_into_the_past_is_refused(four_registered):
    # Starting a little before the clock (an hour early by the pinned time) is a move into the past too.
    typo = seed_file(four_registered, (START, "starts_at: 2023-05-22T08:00"), (END, "ends_at: 2023-05-22T08:30"))
    result = run("events", "put", str(typo))
    assert result.exit_code == 2
    assert f"{typo}: starts_at: 2023-05-22T08:00 has passed" in result.stderr


def test_a_new_event_that_has_ended_is_refused(aws, tmp_path):
    old = seed_file(tmp_path, (START, "starts_at: 2022-06-05T14:00"), (END, "ends_at: 2022-06-05T17:00"))
    result = run("events", "put", str(old))
    assert result.exit_code == 2
    assert pinned(result.stderr) == (
        f"Error: {old}: ends_at: 2022-06-05T17:00 has passed by the service's clock (now <clock> "
        "Europe/Amsterdam), so the event would be over before it is published. Check the date, the year above "
        "all; if you mean it, run events put again with --allow-past\n")
    with pytest.raises(store.EventNotFound):
        store.get_event_item(SEED_EVENT_ID, consistent=True)
    assert run("events", "put", "--allow-past", str(old)).exit_code == 0
    assert store.event_definition(SEED_EVENT_ID).starts_at.year == 2022


def test_a_running_event_may_still_be_changed(four_registered):
    """Only a move into the past is refused: an event already under way (stored so) takes a new place."""
    running = seed_file(four_registered, (START, "starts_at: 2023-05-22T08:00"), (END, "ends_at: 2023-05-22T18:00"))
    assert run("events", "put", "--allow-past", "--yes", str(running)).exit_code == 0
    moved = seed_file(four_registered, (START, "starts_at: 2023-05-22T08:00"), (END, "ends_at: 2023-05-22T18:00"),
                      ("name: Partos\n  address", "name: Zaal 2\n  address"))
    result = run("events", "put", "--yes", str(moved))
    assert result.exit_code == 0, result.output
    assert store.event_definition(SEED_EVENT_ID).location.name == "Zaal 2"


def test_allow_past_publishes_but_the_expiry_never_falls_within_a_day(four_registered):
    """With --allow-past the typo goes through (staff meant it), but no item's TTL is set earlier than a day
    from now: DynamoDB would have deleted the registrations before the date could be put right."""
    now = int(clock.now().timestamp())
    typo = seed_file(four_registered, (START, "starts_at: 2022-06-27T14:00"), (END, "ends_at: 2022-06-27T17:00"))
    result = run("events", "put", "--allow-past", "--yes", str(typo))
    assert result.exit_code == 0, result.output
    after = expiries()
    assert len(after) >= 6  # registrations, guards, the waitlist bucket
    floor = int(clock.now().timestamp()) + store.EXPIRY_MARGIN_SECONDS
    assert all(now + store.EXPIRY_MARGIN_SECONDS <= at <= floor for at in after.values()), after
    assert lifecycle.keep_retention(SEED_EVENT_ID) == 0  # a second run lowers nothing further: no churn


def test_the_restamp_floor_holds_on_every_publish_path(aws):
    """``make run`` loads ``events/`` with ``store.put_event`` and then ``lifecycle.keep_retention``, no staff check:
    the floor is in the restamp itself."""
    from chalicelib import registrations
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    store.put_event(event)
    registrations.register(SEED_EVENT_ID, partos_registration(), "nl")
    past = event.model_copy(update={"starts_at": event.starts_at.replace(year=2022),
                                    "ends_at": event.ends_at.replace(year=2022)})
    store.put_event(past)
    now = int(clock.now().timestamp())
    assert past.retention_until(90) < now  # what the restamp was asked for: already gone
    assert lifecycle.keep_retention(SEED_EVENT_ID) == 2  # the registration and its address guard
    assert all(at >= now + store.EXPIRY_MARGIN_SECONDS for at in expiries().values())
    store.put_event(event)  # put right: the time is the event's again
    assert lifecycle.keep_retention(SEED_EVENT_ID) == 2
    assert set(expiries().values()) == {event.retention_until(90)}


# -- --dry-run and the question before emailing ------------------------------------------------------------


def registration_items() -> dict[str, dict]:
    return {i["email"]: i for i in store.iter_registrations(SEED_EVENT_ID, consistent=True)}


def test_dry_run_says_what_would_change_and_whom_it_would_email_and_writes_nothing(four_registered):
    before_items = table_items()
    later = seed_file(four_registered, (START, "starts_at: 2023-06-05T15:00"), (END, "ends_at: 2023-06-05T18:00"),
                      ("capacity: 2", "capacity: 3"))

    preview = run("events", "put", "--dry-run", str(later))

    assert preview.exit_code == 0, preview.output
    assert preview.stdout.splitlines() == [
        "Dry run: nothing was written.",
        f"Would update event {SEED_EVENT_ID}: 3 field(s) changed: starts_at, ends_at, capacity.",
        "Capacity 2 -> 3 (2 confirmed, 2 waitlisted).",
        "Would promote 1 waitlisted registration(s) into the new seats.",
        "The time would change.",
        "Would email 4 registrant(s):",
        "  4 about the new time (3 holding a seat, 1 waiting)",
        "  1 that a seat is theirs (promoted from the waitlist into the new seats)",
    ]
    assert sorted(map(str, table_items())) == sorted(map(str, before_items))  # not one item written

    done = run("events", "put", "--yes", str(later))  # what the preview said is what happens
    assert done.exit_code == 0, done.output
    assert "Promoted 1 waitlisted registration(s) into the new seats." in done.stdout
    assert "Told 4 registration(s) of the change (their emails follow)." in done.stdout
    items = registration_items()
    assert items["p2@example.org"]["status"] == "confirmed"
    assert sorted(a for a, i in items.items() if "updated" in i["notifications"]) == [
        "p0@example.org", "p1@example.org", "p2@example.org", "p3@example.org"]


def test_dry_run_of_an_unchanged_file_and_of_a_new_event(aws, tmp_path):
    path = seed_file(tmp_path)
    new = run("events", "put", "--dry-run", str(path))
    assert new.exit_code == 0, new.output
    assert new.stdout.splitlines() == ["Dry run: nothing was written.",
                                       f"Would create event {SEED_EVENT_ID} (capacity 2).", "Would email nobody."]
    with pytest.raises(store.EventNotFound):
        store.get_event_item(SEED_EVENT_ID, consistent=True)
    assert run("events", "put", str(path)).exit_code == 0
    same = run("events", "put", "--dry-run", str(path))
    assert same.stdout.splitlines() == [
        "Dry run: nothing was written.",
        f"Event {SEED_EVENT_ID} is unchanged: putting it again would store the same definition.",
        "Would email nobody."]


def test_dry_run_refuses_a_move_into_the_past_as_the_put_would(four_registered):
    typo = seed_file(four_registered, (START, "starts_at: 2022-06-27T14:00"), (END, "ends_at: 2022-06-27T17:00"))
    preview = run("events", "put", "--dry-run", str(typo))
    assert preview.exit_code == 2 and preview.stdout == ""
    assert pinned(preview.stderr) == pinned(run("events", "put", str(typo)).stderr)
    assert f"{typo}: starts_at: 2022-06-27T14:00 has passed" in preview.stderr


def test_dry_run_names_the_no_seat_emails_of_a_cutoff_let_into_the_past(four_registered):
    closed = seed_file(four_registered, ("waitlist: true", "waitlist: true\nwaitlist_closes_at: 2023-05-22T08:00"))
    preview = run("events", "put", "--dry-run", "--allow-past", str(closed))
    assert preview.exit_code == 0, preview.output
    assert preview.stdout.splitlines()[1:] == [
        f"Would update event {SEED_EVENT_ID}: 1 field(s) changed: waitlist_closes_at.",
        "Would email 2 registrant(s):",
        "  2 that no seat came free (the waitlist cutoff has passed)",
    ]


def test_dry_run_names_the_reminders_a_move_makes_due_at_once(four_registered):
    """Moved to tomorrow 08:00, the one-day reminder's time (today 08:00) has passed: the scheduled function sends it
    to the confirmed who registered before it at its next run."""
    from chalicelib import aws
    from chalicelib.settings import get_settings

    for item in registration_items().values():  # registered a week before the clock's now
        aws.client("dynamodb").update_item(
            TableName=get_settings().table_name, Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
            UpdateExpression="SET registered_at = :at",
            ExpressionAttributeValues={":at": {"S": "2023-05-15T08:00:00+00:00"}})
    tomorrow = seed_file(four_registered, (START, "starts_at: 2023-05-23T08:00"), (END, "ends_at: 2023-05-23T10:00"))
    preview = run("events", "put", "--dry-run", str(tomorrow))
    assert preview.exit_code == 0, preview.output
    assert preview.stdout.splitlines()[-3:] == [
        "Would email 4 registrant(s):",
        "  4 about the new time (2 holding a seat, 2 waiting)",
        "  2 with the 1d reminder now (its time has passed)",
    ]
    assert run("events", "put", "--yes", str(tomorrow)).exit_code == 0
    asked = jobs.run_due(clock.now())
    reminded = sorted(a for a, i in registration_items().items() if "reminder_1d" in i["notifications"])
    assert reminded == ["p0@example.org", "p1@example.org"], asked


def test_put_asks_before_it_emails_registrants(four_registered):
    moved = seed_file(four_registered, ("name: Partos\n  address", "name: Zaal 2\n  address"))
    question = (f"This will email 4 registrant(s) of {SEED_EVENT_ID}: 4 about the new place (2 holding a seat, "
                "2 waiting). Continue? [y/N]: ")

    no = run("events", "put", str(moved), input="n\n")
    assert no.exit_code == 1 and no.stderr.startswith(question), no.output
    unanswered = run("events", "put", str(moved))  # a script with nothing on stdin: as registrations cancel does
    assert unanswered.exit_code == 1 and unanswered.stderr.startswith(question)
    assert store.event_definition(SEED_EVENT_ID).location.name == "Partos"
    assert all("updated" not in i["notifications"] for i in registration_items().values())

    yes = run("events", "put", str(moved), input="y\n")
    assert yes.exit_code == 0, yes.output
    assert "Told 4 registration(s) of the change (their emails follow)." in yes.stdout
    assert store.event_definition(SEED_EVENT_ID).location.name == "Zaal 2"


def test_put_does_not_ask_when_nobody_is_emailed(four_registered):
    retitled = seed_file(four_registered, ("nl: \"Workshop Best Practices", "nl: \"Workshop: Best Practices"))
    result = run("events", "put", str(retitled))
    assert result.exit_code == 0, result.output
    assert "Continue?" not in result.output
    assert store.event_definition(SEED_EVENT_ID).title.nl.startswith("Workshop: Best Practices")
