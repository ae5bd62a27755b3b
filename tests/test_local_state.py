"""``make run``'s kept data (``localservice.state``, README "Quick start"), against moto in-process.

A "restart" here is what a new start of the local service does: an empty table
with a new stream, the saved state loaded, the stream records of the load
skipped and the saved undelivered records replayed.
"""

import email
import email.policy
import json
import threading

import pytest

from chalicelib import aws as aws_clients
from chalicelib import lifecycle, registrations, store
from localservice.awsfake import create_table
from localservice.state import FORMAT, LocalState, StateError
from localservice.stream import StreamPump
from tests.conftest import SEED_EVENT_ID, partos_registration, sent_messages
from tests.test_capacity import small_event

REGION = "eu-west-1"
TITLE = "Workshop Best Practices ‘Engagement and mobilisation’"  # events/partos-engagement-mobilisatie-2023.yaml
BUCKET = "registrations-local-exports"


def _restart(aws, state: LocalState):
    """An empty table, the saved state loaded into it; returns (what was loaded, the new poller)."""
    from app import deliver_emails

    dynamodb = aws_clients.client("dynamodb")
    dynamodb.delete_table(TableName=aws["TABLE_NAME"])
    create_table(dynamodb, aws["TABLE_NAME"])
    s3 = aws_clients.client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        for entry in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            s3.delete_object(Bucket=bucket["Name"], Key=entry["Key"])
        s3.delete_bucket(Bucket=bucket["Name"])
    pump = StreamPump(aws["TABLE_NAME"], deliver_emails)
    loaded, undelivered = state.load(state.read())
    pump.skip_to_end()
    pump.replay(undelivered)
    return loaded, pump


def _recipients(messages) -> list[tuple[str, str]]:
    out = []
    for message in messages:
        parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
        out.append((parsed["To"].addresses[0].addr_spec, parsed["Subject"]))
    return sorted(out)


def _register(address: str):
    return registrations.register(SEED_EVENT_ID, partos_registration(email=address, language="en"), "en")


def test_emails_pending_at_the_save_are_sent_once_after_the_restart(aws, pump, tmp_path):
    small_event(1)
    ann, bob = _register("ann@example.org"), _register("bob@example.org")
    assert (ann.status, bob.status) == ("confirmed", "waitlisted")
    pump.pump_once()
    assert len(sent_messages()) == 2
    # Ann cancels; Bob is promoted. Both emails are still to send when the service stops.
    lifecycle.cancel(SEED_EVENT_ID, ann.registration_id)
    state = LocalState(tmp_path, aws["TABLE_NAME"], REGION)
    state.save(pump, None)

    loaded, pump = _restart(aws, state)
    assert (loaded.registrations, loaded.events, loaded.emails_pending) == (2, 1, 2)
    assert store.get_registration(bob.registration_id)["status"] == "confirmed"
    pump.pump_once()
    assert _recipients(sent_messages()[2:]) == [("ann@example.org", f"Registration cancelled: {TITLE}"),
                                                ("bob@example.org", f"A seat is yours: {TITLE}")]
    item = store.get_registration(bob.registration_id)
    assert item["notifications"]["promoted"]["state"] == "sent"

    # Saved after sending: a further restart sends nothing again.
    state.save(pump, None)
    loaded, pump = _restart(aws, state)
    assert loaded.emails_pending == 0
    pump.pump_once()
    assert len(sent_messages()) == 4
    # The loaded table works as before: the seat counter and the address guards came back.
    assert _register("dan@example.org").status == "waitlisted"
    with pytest.raises(store.AlreadyRegistered):
        _register("BOB@example.org")


def test_a_registration_made_after_the_last_poll_is_in_the_save(aws, pump, tmp_path):
    small_event(5)
    pump.pump_once()
    cas = _register("cas@example.org")  # written, not yet seen by the poller
    state = LocalState(tmp_path, aws["TABLE_NAME"], REGION)
    state.save(pump, None)
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["format"] == FORMAT
    images = [r["dynamodb"]["NewImage"] for r in saved["undelivered"]]  # the registration, its guard, the counters
    assert [i["registration_id"]["S"] for i in images if i["type"]["S"] == "registration"] == [cas.registration_id]

    _, pump = _restart(aws, state)
    assert not sent_messages()
    pump.pump_once()
    assert _recipients(sent_messages()) == [("cas@example.org", f"Confirmed: {TITLE}")]


def test_every_save_is_one_consistent_instant(aws, tmp_path):
    """Saved while registrations run: the seat counter always equals the confirmed registrations saved."""
    small_event(1000)
    state = LocalState(tmp_path, aws["TABLE_NAME"], REGION)
    pump = StreamPump(aws["TABLE_NAME"], lambda event, context: {"batchItemFailures": []})
    done = threading.Event()
    errors = []

    def register_all():
        try:
            for i in range(30):
                _register(f"p{i}@example.org")
        except Exception as error:  # pragma: no cover (shown by the assert below)
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=register_all)
    thread.start()
    snapshots = 0
    while not done.is_set() or snapshots == 0:
        state.save(pump, None)
        items = [store.deserialize(i) for i in json.loads((tmp_path / "state.json").read_text())["items"]]
        [counters] = [i for i in items if i["type"] == "counters"]
        confirmed = [i for i in items if i["type"] == "registration" and i["status"] == "confirmed"]
        guards = [i for i in items if i["type"] == "guard"]
        assert counters["seats_taken"] == len(confirmed) == len(guards)
        snapshots += 1
    thread.join()
    assert not errors
    state.save(pump, None)
    saved = json.loads((tmp_path / "state.json").read_text())["items"]
    assert sum(1 for i in saved if i["type"]["S"] == "registration") == 30


def test_export_files_are_kept_and_deleted_with_the_bucket(aws, pump, tmp_path):
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = "exports/registrations-local/AWSDynamoDB/01234/data/abc.json.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"\x1f\x8b data")
    s3.put_object(Bucket=BUCKET, Key="../outside", Body=b"never a file outside the folder")
    state = LocalState(tmp_path, aws["TABLE_NAME"], REGION)
    state.save(pump, None)
    assert (tmp_path / "s3" / BUCKET / key).read_bytes() == b"\x1f\x8b data"
    assert not (tmp_path / "s3" / "outside").exists()

    loaded, pump = _restart(aws, state)
    assert loaded.export_files == 1
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"\x1f\x8b data"

    s3.delete_object(Bucket=BUCKET, Key=key)  # README: staff delete export files by hand
    state.save(pump, None)
    assert not (tmp_path / "s3" / BUCKET / key).exists()


def test_a_second_service_cannot_use_the_same_folder(aws, tmp_path):
    first = LocalState(tmp_path, aws["TABLE_NAME"], REGION)
    first.lock()
    with pytest.raises(StateError, match=r"in use by another local service .*LOCAL_STATE=.local-state-2 make run"):
        LocalState(tmp_path, aws["TABLE_NAME"], REGION).lock()


@pytest.mark.parametrize("text, reason", [
    ("{", "cannot be read"),
    (json.dumps({"format": FORMAT + 1, "items": [], "undelivered": []}), f"has format {FORMAT + 1}"),
])
def test_a_save_it_cannot_read_stops_the_start_with_the_fix(aws, tmp_path, text, reason):
    (tmp_path / "state.json").write_text(text)
    state = LocalState(tmp_path, aws["TABLE_NAME"], REGION)
    with pytest.raises(StateError, match=f"{reason}.*Start empty with FRESH=1 make run"):
        state.read()
    assert state.set_aside() is True  # FRESH=1 keeps the file in previous/
    assert (tmp_path / "previous" / "state.json").read_text() == text
    assert state.read() is None
