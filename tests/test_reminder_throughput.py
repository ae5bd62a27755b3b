"""Reminders for a big event: 5,000 asked across runs of ``RunDueJobs``, and sent under SES throttling
without a record reaching the dead-letter queue (README, "Emails": sending rate; issue 12).

The registrations are written straight into the table (as 5,000 registrations would have left them),
so the tests time the job and the delivery, not 5,000 sign-ups. Throttling is injected on the wire
(botocore's ``before-send`` on SES v2 SendEmail): a stand-in SES that accepts a fixed number of sends
per second of a virtual clock. The virtual clock moves with each request and with botocore's backoff
waits, which are patched to advance it instead of sleeping (``botocore.endpoint``'s ``time.sleep``):
our code is not patched, and the test takes no real time waiting.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest

from app import deliver_emails
from chalicelib import aws, delivery, jobs, registrations, store
from chalicelib.events import parse_event
from chalicelib.settings import get_settings
from tests.conftest import ROOT, sent_messages
from tests.staff.conftest import CASES_EVENT
from tests.test_delivery_faults import ses_error
from tests.test_reminders import START_UTC, set_clock

EVENT_ID = CASES_EVENT["id"]
DUE = START_UTC - timedelta(days=1)
#: The deployed stream mapping's settings (infrastructure/stages.json, prod).
STAGE = json.loads((ROOT / "infrastructure" / "stages.json").read_text())["prod"]


def put_registrations(event, count: int, *, status: str = "confirmed", prefix: str = "p") -> list[str]:
    """Write ``count`` registration items as registering on 1 June would have left them; their ids."""
    client = aws.client("dynamodb")
    table = get_settings().table_name
    stamp = datetime(2023, 6, 1, 8, 0, tzinfo=UTC).isoformat()
    expires = registrations.retention_expiry(event, 90)
    ids = [f"{prefix}{i:05d}-{'x' * 14}" for i in range(count)]
    for start in range(0, count, 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": store.serialize({
            "pk": store.event_pk(EVENT_ID), "sk": store.registration_sk(rid), "type": "registration",
            "registration_id": rid, "event_id": EVENT_ID, "status": status, "name": f"Person {rid[:6]}",
            "email": f"{rid[:6]}@example.org", "language": "en" if i % 2 else "nl", "answers": {},
            "registered_at": stamp, "status_changed_at": stamp, "consent_at": stamp, store.TTL_ATTRIBUTE: expires,
            "email_state": "sent", "notifications": {"registered": {"state": "sent", "at": stamp}},
        })}} for i, rid in enumerate(ids[start:start + 25], start)]})
    return ids


@pytest.fixture
def big_event(aws, monkeypatch):
    set_clock(monkeypatch, DUE + timedelta(minutes=2))
    event = parse_event({**CASES_EVENT, "questions": [], "capacity": None, "waitlist": False})
    store.put_event(event)
    return event


@pytest.mark.slow
def test_5000_reminders_are_asked_across_runs_and_each_run_reads_on_from_the_last(big_event):
    # GIVEN 5,000 confirmed registrants and 30 cancelled ones
    confirmed = put_registrations(big_event, 5000)
    put_registrations(big_event, 30, status="cancelled", prefix="c")
    queries: list[dict[str, Any]] = []

    def watch(params, model, **_):
        if model.name == "Query" and params["KeyConditionExpression"].startswith("pk = :pk AND begins_with"):
            queries.append(params)

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb.Query", watch)

    def runs_out_after(writes: int) -> Callable[[], bool]:
        """A Lambda invocation that runs short of time after ``writes`` asks."""
        asked = iter(range(writes))
        return lambda: next(asked, None) is None

    # WHEN each run has time for 1,500 writes only
    reports, cursors = [], []
    for _ in range(4):
        first_query = len(queries)
        reports.append(jobs.run_due(DUE + timedelta(minutes=1), runs_out_after(1500)).as_json())
        entry = next(e for e in store.catalogue_entries() if e["event_id"] == EVENT_ID)
        cursors.append(
            (
                queries[first_query].get("ExclusiveStartKey"),
                entry.get("cursor_reminder_1d"),
                entry.get("done_reminder_1d"),
            )
        )

    # THEN three runs are cut short, each leaving a cursor the next reads on from, and the fourth finishes
    assert [r["unfinished"] for r in reports[:3]] == [[{"event_id": EVENT_ID, "job": "reminder_1d"}]] * 3
    assert reports[3] == {"done": [{"event_id": EVENT_ID, "job": "reminder_1d", "changes": 500}], "unfinished": []}
    due = int(DUE.timestamp())
    assert cursors[0][0] is None and cursors[3][1] is None and cursors[3][2] == due
    for before, after in itertools.pairwise(cursors):
        assert before[2] is None  # not done while some are left
        assert after[0] == store.serialize(
            {"pk": store.event_pk(EVENT_ID), "sk": before[1]["sk"]}
        )  # on from the cursor
    # every confirmed registrant asked exactly once; nobody else
    items = {i["registration_id"]: i for i in store.iter_registrations(EVENT_ID, consistent=True)}
    asked = [rid for rid, i in items.items() if "reminder_1d" in i["notifications"]]
    assert sorted(asked) == sorted(confirmed)
    assert {items[rid]["notifications"]["reminder_1d"]["state"] for rid in asked} == {"pending"}
    assert {items[rid]["reminder_1d_due"] for rid in asked} == {due}
    # a further run changes nothing
    assert jobs.run_due(DUE + timedelta(minutes=6)).as_json() == {"done": [], "unfinished": []}


class ThrottledSes:
    """SES v2 SendEmail that accepts at most ``rate`` sends per second of a virtual clock, or (``every_other``)
    refuses every other send.

    Each request takes ``latency`` virtual seconds; botocore's backoff waits advance the clock too
    (:meth:`sleep`). Refusals alternate between SES v2's ``TooManyRequestsException`` (429) and
    ``Throttling`` ("Maximum sending rate exceeded", 400), the two answers SES gives.
    """

    def __init__(self, rate: int = 0, latency: float = 0.01, every_other: bool = False):
        self.rate, self.latency, self.every_other = rate, latency, every_other
        self.now = 0.0
        self.calls = 0
        self.accepted: Counter = Counter()
        self.refused = 0
        self.waited: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.now += seconds

    def before_send(self, request, **_):
        self.now += self.latency
        self.calls += 1
        second = int(self.now)
        if (self.every_other and self.calls % 2) or (self.rate and self.accepted[second] >= self.rate):
            self.refused += 1
            if self.refused % 2:
                return ses_error(request, 429, "TooManyRequestsException")
            return ses_error(request, 400, "Throttling")
        self.accepted[second] += 1
        return None  # moto answers, as SES would


def event_source_mapping(records: list[dict[str, Any]], *, batch_size: int, max_retries: int) -> list[dict[str, Any]]:
    """Lambda's stream event source mapping, as far as these tests need it: batches in order; after a
    partial batch failure the batch is retried from its lowest failed record; a batch still failing
    after ``max_retries`` retries goes to the dead-letter queue (returned) and the stream moves on."""
    dead_letters: list[dict[str, Any]] = []
    for start in range(0, len(records), batch_size):
        batch, retries = records[start : start + batch_size], 0
        while batch:
            failed = {f["itemIdentifier"] for f in deliver_emails({"Records": batch}, None)["batchItemFailures"]}
            if not failed:
                break
            batch = batch[min(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed) :]
            retries += 1
            if retries > max_retries:
                dead_letters.extend(batch)
                break
    return dead_letters


#: SES accepting 14 sends a second (a new production account's rate) while we could try 100 (a request
#: takes 10 ms of the virtual clock: the pace of several DeliverEmails instances at once); or refusing
#: every other send, however slowly they come.
STAND_INS = {"14 a second": {"rate": 14}, "every other": {"every_other": True}}


@pytest.mark.slow
@pytest.mark.parametrize("stand_in", STAND_INS, ids=list(STAND_INS))
def test_reminders_sent_under_ses_throttling_each_arrive_once_and_none_reach_the_dead_letter_queue(
    big_event, pump, monkeypatch, stand_in
):
    # GIVEN 200 confirmed registrants asked for their reminder, 20 waitlisted
    confirmed = put_registrations(big_event, 200)
    put_registrations(big_event, 20, status="waitlisted", prefix="w")
    pump.skip_to_end()
    assert jobs.run_due(DUE + timedelta(minutes=1)).done == [(EVENT_ID, "reminder_1d", 200)]
    records = [r for r in pump._new_records() if delivery.change_of(r) is not None]
    assert len(records) == 200
    # and a throttling SES
    ses = ThrottledSes(**STAND_INS[stand_in])
    aws.client("sesv2").meta.events.register_first("before-send.sesv2.SendEmail", ses.before_send)
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=ses.sleep))
    state = random.getstate()
    random.seed(12)  # botocore's backoff jitter, so the run is the same every time
    try:
        # WHEN the stream delivers them as the deployed mapping does
        dead_letters = event_source_mapping(
            records, batch_size=STAGE["stream_batch_size"], max_retries=STAGE["stream_max_retries"]
        )
    finally:
        random.setstate(state)
    # THEN SES refused many sends (and took no more than its rate), and every reminder went exactly once
    assert ses.refused >= (200 if ses.every_other else 10) and sum(ses.accepted.values()) == 200
    if ses.rate:
        assert max(ses.accepted.values()) == ses.rate
    assert dead_letters == []
    reminders = Counter(
        addr
        for m in sent_messages()
        for addr in {a for _, a in getaddresses(m.destinations)}
        if "Subject: Reminder:" in m.raw_data or "Subject: Herinnering:" in m.raw_data
    )
    assert reminders == Counter({f"{rid[:6]}@example.org": 1 for rid in confirmed})
    items = list(store.iter_registrations(EVENT_ID, consistent=True))
    assert Counter(i["notifications"].get("reminder_1d", {}).get("state") for i in items) == Counter(
        {"sent": 200, None: 20}
    )
    assert max(ses.waited) <= 16  # botocore's backoff, within its cap for the 6th attempt


def test_a_send_still_throttled_after_botocores_retries_holds_back_the_rest_of_the_batch(big_event, pump, monkeypatch):
    # GIVEN three reminders asked for, and SES refusing every send for the sending rate
    put_registrations(big_event, 3)
    pump.skip_to_end()
    jobs.run_due(DUE + timedelta(minutes=1))
    records = [r for r in pump._new_records() if delivery.change_of(r) is not None]
    sends, waits = [], []

    def refuse(request, **_):
        sends.append(1)
        return ses_error(request, 429, "TooManyRequestsException")

    aws.client("sesv2").meta.events.register_first("before-send.sesv2.SendEmail", refuse)
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=waits.append))
    # WHEN the batch is delivered
    answer = deliver_emails({"Records": records}, None)
    # THEN the first send was tried 6 times (botocore's backoff in between), the other two not at all,
    # and all three come back for the stream's retry, still pending
    assert len(sends) == 6 and len(waits) == 5
    assert answer == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records]}
    states = {i["notifications"]["reminder_1d"]["state"] for i in store.iter_registrations(EVENT_ID, consistent=True)}
    assert states == {"pending"}
