"""AWS not answering in time (or throttling) after botocore's retries: 503 ``unavailable``, never 500.

Found by a stress run against the local service: 100 clients at once made DynamoDB calls wait past the
10 s read timeout, and registrations, cancellations and status pages answered 500 ``internal-error``
(README, "HTTP API": 500 is for a bug of ours). Faults are injected on the wire (botocore's ``before-send``),
so everything above botocore runs as deployed.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ReadTimeoutError

from chalicelib import aws as clients
from chalicelib import registrations, store
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json

UNAVAILABLE = {
    "type": "/problems/unavailable", "title": "Try again shortly", "status": 503,
    "detail": "We could not reach our storage just now; please try again in a few seconds. If you were "
              "registering, check your email first: it may have gone through, and sending the form again "
              "will not register you twice.",
}


@pytest.fixture
def failing_dynamodb(aws, monkeypatch):
    """``fail(operation, error)``: every later DynamoDB ``operation`` raises ``error`` on the wire (one try)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    clients.reset_clients()

    def fail(operation: str, error: Exception) -> None:
        def raise_error(**_):
            raise error
        clients.client("dynamodb").meta.events.register_first(f"before-send.dynamodb.{operation}", raise_error)

    yield fail
    clients.reset_clients()


def _timeout() -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")


def test_a_registration_whose_write_times_out_is_503_unavailable(client, seed_event, failing_dynamodb):
    failing_dynamodb("TransactWriteItems", _timeout())
    answer = post_json(client, partos_registration(language="en"))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert json.loads(answer.body) == UNAVAILABLE


def test_a_form_post_whose_write_times_out_gets_a_page(client, seed_event, failing_dynamodb):
    failing_dynamodb("TransactWriteItems", _timeout())
    answer = client.http.post(
        f"/events/{SEED_EVENT_ID}/registrations?lang=nl",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="name=Ida&email=ida%40example.org&consent=on&organisation=X&role=campaigner&language=nl",
    )
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"].startswith("text/html")
    page = answer.body.decode()
    assert "Probeer het zo opnieuw" in page and "schrijft je niet twee keer in" in page


def test_status_page_and_cancel_when_reads_time_out(client, seed_event, failing_dynamodb):
    from chalicelib import tokens

    registered = registrations.register(SEED_EVENT_ID, partos_registration(), "en")
    failing_dynamodb("Query", _timeout())  # the by-registration index
    view = tokens.make_token(registered.registration_id, tokens.VIEW)
    status = client.http.get(f"/registrations/{registered.registration_id}?token={view}",
                             headers={"Accept-Language": "en"})
    assert (status.status_code, json.loads(status.body)) == (503, UNAVAILABLE)
    cancel = client.http.post(f"/registrations/{registered.registration_id}/cancel",
                              headers={"Content-Type": "application/json", "Accept-Language": "en"},
                              body=json.dumps({"token": tokens.make_token(registered.registration_id, tokens.CANCEL)}))
    assert (cancel.status_code, json.loads(cancel.body)) == (503, UNAVAILABLE)


def test_throttling_is_unavailable_and_the_event_page_too(client, seed_event, failing_dynamodb):
    from botocore.exceptions import ClientError

    store.reset_caches()  # the definition is kept per instance for a few seconds: read it now
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                            "GetItem")
    failing_dynamodb("GetItem", throttled)
    failing_dynamodb("BatchGetItem", throttled)
    page = client.http.get(f"/events/{SEED_EVENT_ID}/register", headers={"Accept-Language": "en"})
    assert page.status_code == 503 and "Try again shortly" in page.body.decode()


def test_the_api_functions_budget_tries_a_call_three_times_then_answers_503(client, seed_event, aws, monkeypatch):
    """The deployed API function's AWS_MAX_ATTEMPTS=3 / AWS_READ_TIMEOUT=3 (README, "Deploying"): botocore
    tries a timed-out write 3 times, each with a 3 s read timeout, and the client gets 503 in time."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("AWS_READ_TIMEOUT", "3")
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    clients.reset_clients()
    tries = []

    def time_out(request, **_):
        tries.append(request)
        raise _timeout()

    dynamodb = clients.client("dynamodb")
    assert (dynamodb.meta.config.read_timeout, dynamodb.meta.config.connect_timeout) == (3.0, 3.0)
    dynamodb.meta.events.register_first("before-send.dynamodb.TransactWriteItems", time_out)
    answer = post_json(client, partos_registration(language="en"))
    assert (answer.status_code, json.loads(answer.body)) == (503, UNAVAILABLE)
    assert len(tries) == 3
    # The same ClientRequestToken on every try: DynamoDB applies the write at most once.
    tokens = {json.loads(r.body)["ClientRequestToken"] for r in tries}
    assert len(tokens) == 1
    clients.reset_clients()


def test_aws_call_settings_are_checked():
    from pydantic import ValidationError

    from chalicelib.settings import Settings

    for variables in ({"AWS_MAX_ATTEMPTS": "0"}, {"AWS_MAX_ATTEMPTS": "11"}, {"AWS_MAX_ATTEMPTS": "three"},
                      {"AWS_READ_TIMEOUT": "0"}, {"AWS_READ_TIMEOUT": "nan"}, {"AWS_READ_TIMEOUT": "61"}):
        with pytest.raises(ValidationError):
            Settings(**variables)
    default = Settings()
    assert (default.aws_max_attempts, default.aws_read_timeout) == (6, 10.0)
    assert clients.worst_case_seconds(6, 10.0) == 6 * 15 + 1 + 2 + 4 + 8 + 16


def test_a_bug_is_still_500(client, seed_event, failing_dynamodb):
    from botocore.exceptions import ClientError

    failing_dynamodb("TransactWriteItems", ClientError(
        {"Error": {"Code": "ValidationException", "Message": "a malformed request of ours"}}, "TransactWriteItems"))
    answer = post_json(client, partos_registration(), headers={"Accept-Language": "en"})
    assert answer.status_code == 500
    assert json.loads(answer.body)["type"] == "/problems/internal-error"


def test_botocore_retrying_a_registration_whose_answer_was_lost_registers_once(client, seed_event):
    """botocore retries a transaction with the same ClientRequestToken; DynamoDB (and the stand-in,
    ``localservice.awsfake``) applies it once and answers success again, so the person gets 201, not a
    409 from their own address guard (a stress run of ``make run`` saw that 14 times)."""
    retried = []

    def retry_the_first_success(response, attempts, **_):
        if response is not None and response[0].status_code == 200 and not retried:
            retried.append(attempts)
            return 0  # "retry now", as after a read timeout
        return None

    clients.client("dynamodb").meta.events.register_first("needs-retry.dynamodb.TransactWriteItems",
                                                           retry_the_first_success)
    answer = post_json(client, partos_registration(language="en"))
    assert retried == [1]
    assert answer.status_code == 201, answer.body
    stored = list(store.iter_registrations(SEED_EVENT_ID, consistent=True))
    assert [r["status"] for r in stored] == ["confirmed"]
    assert store.get_counters(SEED_EVENT_ID).seats_taken == 1
