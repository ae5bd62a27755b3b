"""The stage's SES configuration set, its event destination and RecordEmailEvents (README, "Emails").

Template assertions on the synthesised stacks, and the AWS calls each function makes on its
real paths (moto, botocore hooks) checked against exactly the IAM its role allows.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from stacks.registration import SES_EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]


def _statements(t, function: str) -> dict[str, tuple[list[str], list]]:
    role_id = t.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = t.resources[role_id]["Properties"]["Policies"]
    return {st["Sid"]: (sorted(st["Action"] if isinstance(st["Action"], list) else [st["Action"]]),
                        st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
            for st in policy["PolicyDocument"]["Statement"]}


def _queue_arn(t, prefix: str) -> dict:
    (logical,) = [k for k in t.of_type("AWS::SQS::Queue") if k.startswith(prefix)]
    return {"Fn::GetAtt": [logical, "Arn"]}


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_the_configuration_set_of_the_stage(stage, request):
    t = request.getfixturevalue(stage)
    logical, configuration_set = t.one("AWS::SES::ConfigurationSet")
    assert logical == "EmailConfigurationSet"
    assert configuration_set["Properties"] == {
        "Name": f"event-registration-{stage}",
        "ReputationOptions": {"ReputationMetricsEnabled": True},  # the reputation alarms read its metrics
        "SendingOptions": {"SendingEnabled": True},
        "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    }


def test_the_event_destination_publishes_the_recorded_events_to_the_default_bus(prod):
    _, destination = prod.one("AWS::SES::ConfigurationSetEventDestination")
    props = destination["Properties"]
    assert props["ConfigurationSetName"] == {"Ref": "EmailConfigurationSet"}
    assert props["EventDestination"] == {
        "Name": "registration-events",
        "Enabled": True,
        "MatchingEventTypes": ["delivery", "bounce", "complaint", "reject", "deliveryDelay"],
        "EventBridgeDestination": {"EventBusArn": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":events:eu-west-1:", {"Ref": "AWS::AccountId"},
            ":event-bus/default"]]}},
    }


def test_the_rule_sends_this_stages_ses_events_to_the_function_with_retries_and_a_dlq(prod):
    from chalicelib.feedback import DETAIL_TYPES

    logical, rule = prod.one("AWS::Events::Rule")
    props = rule["Properties"]
    assert "EventBusName" not in props  # the default bus, where SES publishes
    assert props["State"] == "ENABLED"
    assert props["EventPattern"] == {
        "source": ["aws.ses"],
        "detail-type": ["Email Delivered", "Email Bounced", "Email Complaint Received", "Email Rejected",
                        "Email Delivery Delayed"],
        "detail": {"mail": {"tags": {"ses:configuration-set": [{"Ref": "EmailConfigurationSet"}]}}},
    }
    assert sorted(SES_EVENT_TYPES.values()) == sorted(DETAIL_TYPES.values())  # what the function reads
    (target,) = props["Targets"]
    assert target == {
        "Id": "RecordEmailEvents",
        "Arn": {"Fn::GetAtt": ["RecordEmailEvents", "Arn"]},
        "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
        "DeadLetterConfig": {"Arn": _queue_arn(prod, "EmailEventsDLQ")},
    }
    permissions = [p["Properties"] for p in prod.of_type("AWS::Lambda::Permission").values()
                   if p["Properties"]["Principal"] == "events.amazonaws.com"]
    assert len(permissions) == 1
    assert permissions[0]["SourceArn"] == {"Fn::GetAtt": [logical, "Arn"]}
    assert "RecordEmailEvents" in json.dumps(permissions[0]["FunctionName"])
    # EventBridge may put undeliverable events in the queue, for this rule only
    (policy,) = [p for p in prod.of_type("AWS::SQS::QueuePolicy").values()
                 if p["Properties"]["Queues"] == [{"Ref": _queue_arn(prod, "EmailEventsDLQ")["Fn::GetAtt"][0]}]]
    statements = {st.get("Sid", "deny-insecure"): st for st in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["EventBridgeDeadLetters"] == {
        "Sid": "EventBridgeDeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage",
        "Principal": {"Service": "events.amazonaws.com"}, "Resource": _queue_arn(prod, "EmailEventsDLQ"),
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [logical, "Arn"]}}},
    }
    assert statements["deny-insecure"]["Effect"] == "Deny"  # TLS only, like every queue


def test_an_invocation_that_raised_is_retried_twice_then_goes_to_the_dlq(prod):
    _, config = prod.one("AWS::Lambda::EventInvokeConfig")
    props = config["Properties"]
    assert "RecordEmailEvents" in json.dumps(props["FunctionName"])
    assert (props["Qualifier"], props["MaximumRetryAttempts"], props["MaximumEventAgeInSeconds"]) == (
        "$LATEST",
        2,
        21600,
    )
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": _queue_arn(prod, "EmailEventsDLQ")}}


@pytest.mark.parametrize("stage, reserved", [("prod", 5), ("dev", 2)])
def test_record_email_events_has_its_own_entry_memory_and_concurrency(stage, reserved, request):
    t = request.getfixturevalue(stage)
    props = t.resources["RecordEmailEvents"]["Properties"]
    assert props["FunctionName"] == f"event-registration-{stage}-RecordEmailEvents"
    assert props["Handler"] == "chalicelib.entry_feedback.handler"
    assert (props["MemorySize"], props["ReservedConcurrentExecutions"]) == (512, reserved)


def test_feedback_entry_imports_neither_app_nor_chalice():
    code = ("import sys; import chalicelib.entry_feedback as e; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'chalice')));"
            "print(callable(e.handler))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"]


# -- the calls each function makes, against exactly what its role allows --------------------------------------

_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


class _Calls:
    """IAM actions of every DynamoDB and SES request made while ``recording`` (botocore ``before-parameter-build``)."""

    def __init__(self):
        from chalicelib import aws

        self.actions: set[str] = set()
        self.recording = False
        for service in ("dynamodb", "sesv2"):
            aws.client(service).meta.events.register("before-parameter-build", self._count)

    def _count(self, model, params, **_):
        if not self.recording:
            return
        service = model.service_model.service_name
        if service == "dynamodb" and model.name == "TransactWriteItems":
            for item in params["TransactItems"]:
                self.actions.add("dynamodb:" + _ITEM_ACTIONS[next(iter(item))])
        elif service == "dynamodb":
            self.actions.add(f"dynamodb:{model.name}")
        else:
            self.actions.add(f"ses:{model.name}")

    def during(self, function, *args):
        self.recording = True
        try:
            return function(*args)
        finally:
            self.recording = False


def test_the_functions_calls_on_their_real_paths_are_exactly_what_their_roles_allow(prod, aws, pump, monkeypatch):
    """Every path of DeliverEmails and RecordEmailEvents run against moto; the actions they used, per function,
    are the Table (and SES) actions of their roles: none missing, none to spare."""
    from datetime import timedelta

    from chalicelib import clock, entry_deliver, entry_feedback, feedback, lifecycle, registrations, store
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration

    calls = _Calls()
    deliver_calls, feedback_calls = set(), set()

    def deliver():
        calls.actions = set()
        pump.pump_once()  # reads the stream as Lambda's event source mapping would, then calls the entry below
        deliver_calls.update(calls.actions)

    def record(event):
        calls.actions = set()
        with contextlib.suppress(feedback.MessageNotRecordedYet):
            calls.during(entry_feedback.handler, event, None)
        feedback_calls.update(calls.actions)

    pump.handler = lambda event, context: calls.during(entry_deliver.handler, event, context)  # the deployed entry
    store.put_event(load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update={"capacity": 1}))
    seat = registrations.register(SEED_EVENT_ID, partos_registration(email="seat@example.org"), "nl")
    waiting = registrations.register(SEED_EVENT_ID, partos_registration(email="wait@example.org"), "nl")
    store.reset_caches()  # a cold instance reads the event
    deliver()  # a confirmation and a waitlist email (its position)

    def message(registration_id, change="registered"):
        return store.get_registration_in_event(SEED_EVENT_ID, registration_id)["notifications"][change]["message_id"]

    for outcome in ("delivery", "bounce", "delivery"):  # recorded, then superseded
        record(feedback.simulated_event(message(seat.registration_id), "seat@example.org", outcome))
    record(feedback.simulated_event("unknown", "x@example.org", "delivery"))
    record(feedback.simulated_event("unknown", "x@example.org", "delivery",
                                    at=clock.now() - timedelta(hours=1)))
    lifecycle.cancel(SEED_EVENT_ID, seat.registration_id, by="staff")
    deliver()  # the cancellation is suppressed (the bounce), the promotion is sent
    record(feedback.simulated_event(message(waiting.registration_id), "wait@example.org", "complaint"))  # older email
    store.change_email(SEED_EVENT_ID, waiting.registration_id, "wait2@example.org", at=clock.now())
    store.request_resend(SEED_EVENT_ID, waiting.registration_id, at=clock.now())
    late = registrations.register(SEED_EVENT_ID, partos_registration(email="late@typo.nll"), "nl")
    store.change_email(SEED_EVENT_ID, late.registration_id, "late@example.org", at=clock.now())
    deliver()  # a resend; an address corrected under the stream record (the claim sees it)

    assert store.get_registration_in_event(SEED_EVENT_ID, seat.registration_id)["notifications"]["cancelled"][
        "state"] == "suppressed"
    deliver_role, feedback_role = _statements(prod, "DeliverEmails"), _statements(prod, "RecordEmailEvents")
    assert {a for a in deliver_calls if a.startswith("dynamodb:")} == set(deliver_role["Table"][0])
    assert {a for a in deliver_calls if a.startswith("ses:")} <= set(deliver_role["SendFromSender"][0])
    assert feedback_calls == set(feedback_role["Table"][0])
