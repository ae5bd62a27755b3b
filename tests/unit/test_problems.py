"""chalicelib.problems.problem_for: the one table from the service's errors to RFC 9457 answers (README, "HTTP API")."""

from chalicelib import store, tokens
from chalicelib.errors import Busy
from chalicelib.problems import Problem, problem_for
from chalicelib.validation import FieldError, RegistrationInvalid


def test_each_error_carries_its_status_and_code():
    # GIVEN the domain's errors
    cases = {
        store.EventNotFound("e1"): (404, "/problems/not-found"),
        store.RegistrationNotFound("r1"): (404, "/problems/not-found"),
        store.AlreadyRegistered("e1"): (409, "/problems/already-registered"),
        store.EventFull("e1"): (409, "/problems/event-full"),
        store.EventOver("e1"): (409, "/problems/event-over"),
        tokens.InvalidToken("view"): (403, "/problems/invalid-token"),
        Busy("conflict"): (503, "/problems/busy"),
    }
    # WHEN each is answered, THEN the body's status and type are the error's
    for error, (status, kind) in cases.items():
        body = problem_for(error, "en").body()
        assert (body["status"], body["type"]) == (status, kind), error


def test_details_name_what_was_not_found_and_busy_asks_to_retry():
    # GIVEN two not-found errors and a busy one
    event = problem_for(store.EventNotFound("e1"), "en")
    registration = problem_for(store.RegistrationNotFound("r1"), "nl")
    busy = problem_for(Busy("conflict"), "en")
    # THEN the detail says what was missing, in the language asked for, and busy carries Retry-After
    assert event.detail != registration.detail and "event" in event.detail.lower()
    assert busy.headers == {"Retry-After": "1"} and event.headers == {}


def test_validation_lists_its_field_errors_and_a_problem_stays_as_it_is():
    # GIVEN an invalid registration and a problem a parser already worded
    invalid = RegistrationInvalid([FieldError("email", "invalid_email", "Not an address")])
    worded = Problem(415, "unsupported-media-type", "nl", got="text/plain", accepted="application/json")
    # THEN the first is 422 with its errors, the second is itself
    assert problem_for(invalid, "en").body()["errors"] == [
        {"field": "email", "code": "invalid_email", "message": "Not an address"}]
    assert problem_for(worded, "en") is worded
