"""Email delivery under faults: throttling, repeated stream batches, a rejected address; and what logs hold."""

import json

from botocore.awsrequest import AWSResponse

from app import deliver_emails
from chalicelib import aws as clients
from chalicelib import registrations, store
from tests.conftest import SEED_EVENT_ID, partos_registration, sent_messages


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


def ses_error(request, status: int, code: str) -> AWSResponse:
    """An SES error answer for ``request``, as SES would send it on the wire.

    botocore calls every ``before-send`` handler and uses the first answer; moto's
    own handler runs too, so the request is pointed away from SES to keep moto
    from also accepting the message.
    """
    request.url = "http://fault-injected.invalid/"
    body = json.dumps({"message": f"injected {code}"}).encode()
    return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, _Raw(body))


def stream_records(pump):
    """The stream records written since the last read, as Lambda would pass them."""
    return pump._new_records()


def register(email_address: str):
    return registrations.register(SEED_EVENT_ID, partos_registration(email=email_address, name="Ida Test"), "nl")


def test_throttled_twice_then_sent_once(seed_event, pump):
    calls = []

    def throttle_twice(request, **_):
        calls.append(1)
        if len(calls) <= 2:
            return ses_error(request, 429, "TooManyRequestsException")
        return None

    clients.client("sesv2").meta.events.register_first("before-send.sesv2.SendEmail", throttle_twice)
    result = register("ida@example.org")
    answer = deliver_emails({"Records": stream_records(pump)}, None)
    assert answer == {"batchItemFailures": []}
    assert len(calls) == 3  # botocore's standard retry mode retried twice
    assert len(sent_messages()) == 1
    item = store.get_registration_in_event(SEED_EVENT_ID, result.registration_id)
    assert item["email_state"] == "sent" and item["email_message_id"] == sent_messages()[0].id


def test_same_batch_twice_sends_no_second_email(seed_event, pump):
    register("ida@example.org")
    register("jan@example.org")
    batch = {"Records": stream_records(pump)}
    assert deliver_emails(batch, None) == {"batchItemFailures": []}
    assert deliver_emails(batch, None) == {"batchItemFailures": []}
    assert len(sent_messages()) == 2


def test_rejected_address_fails_alone_and_the_batch_goes_on(seed_event, pump):
    def reject_one(request, **_):
        if b"Ym91bmNlQGV4YW1wbGUub3Jn" in request.body or b"bounce@example.org" in request.body:
            return ses_error(request, 400, "MessageRejected")
        return None

    clients.client("sesv2").meta.events.register_first("before-send.sesv2.SendEmail", reject_one)
    ok1 = register("ida@example.org")
    bad = register("bounce@example.org")
    ok2 = register("jan@example.org")
    answer = deliver_emails({"Records": stream_records(pump)}, None)
    assert answer == {"batchItemFailures": []}  # permanent: recorded, not retried
    assert len(sent_messages()) == 2
    failed = store.get_registration_in_event(SEED_EVENT_ID, bad.registration_id)
    assert failed["email_state"] == "failed"
    assert failed["email_error"] == "MessageRejected: injected MessageRejected"
    assert failed["status"] == "confirmed"  # the registration itself stands
    for good in (ok1, ok2):
        assert store.get_registration_in_event(SEED_EVENT_ID, good.registration_id)["email_state"] == "sent"


def test_outage_past_retries_is_reported_for_the_stream_to_retry(seed_event, pump):
    outage = {"on": True}

    def unavailable(request, **_):
        return ses_error(request, 503, "ServiceUnavailable") if outage["on"] else None

    ses = clients.client("sesv2")
    ses.meta.events.register_first("before-send.sesv2.SendEmail", unavailable)
    result = register("ida@example.org")
    records = stream_records(pump)
    answer = deliver_emails({"Records": records}, None)
    registration_record = next(r for r in records if r["dynamodb"]["Keys"]["sk"]["S"].startswith("REG#"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": registration_record["dynamodb"]["SequenceNumber"]}]}
    assert store.get_registration_in_event(SEED_EVENT_ID, result.registration_id)["email_state"] == "pending"
    outage["on"] = False
    assert deliver_emails({"Records": records}, None) == {"batchItemFailures": []}
    assert len(sent_messages()) == 1


def test_logs_are_json_with_ids_and_no_personal_data(client, seed_event, pump):
    import io

    from app import logger
    from tests.conftest import post_json

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)

    answer = post_json(client, partos_registration(name="Geheime Naam", email="geheim@example.org"))
    registration_id = json.loads(answer.body)["registration_id"]
    pump.pump_once()
    from chalicelib import tokens

    token = tokens.make_token(registration_id, tokens.CANCEL)
    client.http.post(f"/registrations/{registration_id}/cancel", headers={"Content-Type": "application/json"},
                     body=json.dumps({"token": token}))
    pump.pump_once()
    logger.registered_handler.setStream(previous)
    everything = stream.getvalue()
    lines = [json.loads(line) for line in everything.splitlines()]
    assert {line["message"] for line in lines} >= {"registered", "email sent", "cancelled"}
    assert all(line["service"] == "event-registration" for line in lines)
    assert any(
        line.get("registration_id") == registration_id and line.get("event_id") == SEED_EVENT_ID for line in lines
    )
    for secret in ("Geheime", "geheim@example.org", token, token.split(".")[1]):
        assert secret not in everything


def test_a_claim_whose_answer_was_lost_is_taken_again_by_the_retry_of_its_record(seed_event, pump):
    """The claim was written but its answer timed out (a stress run of the local service lost a
    confirmation this way, its state left ``sending``): the stream's retry of the same record must
    send, once; another record (a second delivery of the change) must not."""
    from botocore.exceptions import ReadTimeoutError

    lost = []

    def mark_the_first_claim(params, context, **_):
        body = params["body"] if isinstance(params["body"], bytes) else params["body"].encode()
        if b"SET #n.#c = :entry, email_state = :sending" in body and not lost:  # the claim
            context["lose_the_answer"] = True

    def lose_the_claims_answer(context, **_):
        if context.pop("lose_the_answer", False):
            lost.append(1)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")

    result = register("ida@example.org")
    batch = {"Records": stream_records(pump)}
    dynamodb = clients.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb.UpdateItem", mark_the_first_claim)
    dynamodb.meta.events.register("after-call.dynamodb.UpdateItem", lose_the_claims_answer)
    first = deliver_emails(batch, None)
    assert lost and len(first["batchItemFailures"]) == 1 and sent_messages() == []
    item = store.get_registration_in_event(SEED_EVENT_ID, result.registration_id)
    assert item["notifications"]["registered"]["state"] == "sending"  # written: only the answer was lost
    other = {**batch["Records"][0], "eventID": "another-record"}
    assert deliver_emails({"Records": [other]}, None) == {"batchItemFailures": []}
    assert sent_messages() == []  # someone else's fresh claim: not this record's to send
    assert deliver_emails(batch, None) == {"batchItemFailures": []}
    assert len(sent_messages()) == 1
    item = store.get_registration_in_event(SEED_EVENT_ID, result.registration_id)
    assert item["notifications"]["registered"]["state"] == "sent"
