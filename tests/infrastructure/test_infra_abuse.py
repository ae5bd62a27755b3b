"""The stack holds off abuse and sizes for a launch (issues 9 and 11), asserted on the template.

AWS WAF (a per-client POST limit, the managed common rule set) on the API
stage, JSON access logs without query strings, reserved concurrency and
memory per function, an alarm subscription, and DeliverEmails' own entry.
"""
from __future__ import annotations

import json

import pytest

from conftest import DEV_ALARM_EMAIL


def _web_acl(t) -> dict:
    return t.one("AWS::WAFv2::WebACL")[1]["Properties"]


def _rule(t, name: str) -> dict:
    (rule,) = [r for r in _web_acl(t)["Rules"] if r["Name"] == name]
    return rule


# -- AWS WAF ---------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_web_acl_guards_the_api_stage(stage, request):
    t = request.getfixturevalue(stage)
    acl_id, acl = t.one("AWS::WAFv2::WebACL")
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    assert [r["Name"] for r in sorted(acl["Properties"]["Rules"], key=lambda r: r["Priority"])] == [
        "PostsPerClientIp", "DoorPostsPerClientIp", "AWSCommonRules",
    ]
    _, association = t.one("AWS::WAFv2::WebACLAssociation")
    props = association["Properties"]
    assert props["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    arn = props["ResourceArn"]["Fn::Join"][1]
    # arn:aws:apigateway:<region>::/restapis/<RestAPI>/stages/<the stage SAM generates>
    assert {"Ref": "RestAPI"} in arn and arn[-1] == {"Ref": "RestAPI.Stage"}
    assert ":apigateway:eu-west-1::/restapis/" in arn and "/stages/" in arn


def test_rate_rule_limits_posts_per_client_ip(prod):
    rule = _rule(prod, "PostsPerClientIp")
    statement = rule["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP"
    assert statement["Limit"] == prod.settings.waf_rate_limit == 100
    assert statement["EvaluationWindowSec"] == 300
    # Only POST routes count (registrations, cancellations); pages are for the throttle; the door page's
    # posts count apart (DoorPostsPerClientIp).
    assert statement["ScopeDownStatement"] == {"AndStatement": {"Statements": [POSTS, {"NotStatement": {
        "Statement": DOOR_PATH}}]}}


POSTS = {
    "ByteMatchStatement": {
        "FieldToMatch": {"Method": {}},
        "PositionalConstraint": "EXACTLY",
        "SearchString": "POST",
        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
    }
}
DOOR_PATH = {
    "RegexMatchStatement": {
        "FieldToMatch": {"UriPath": {}},
        "RegexString": "/events/[a-z0-9-]+/door/(checkins|undo|search)$",
        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
    }
}


def test_door_posts_have_a_limit_of_their_own(prod):
    """Venue Wi-Fi sends every phone's scans from one address (README, "Check-in at the door")."""
    import re

    rule = _rule(prod, "DoorPostsPerClientIp")
    statement = rule["Statement"]["RateBasedStatement"]
    assert (statement["AggregateKeyType"], statement["Limit"], statement["EvaluationWindowSec"]) == ("IP", 1500, 300)
    assert statement["ScopeDownStatement"] == {"AndStatement": {"Statements": [POSTS, DOOR_PATH]}}
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429 and response["ResponseHeaders"] == \
        _rule(prod, "PostsPerClientIp")["Action"]["Block"]["CustomResponse"]["ResponseHeaders"]
    assert json.loads(_web_acl(prod)["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"]) == {
        "type": "/problems/too-many-requests", "title": "Too many requests", "status": 429,
        "detail": "More than 1500 check-ins and searches from your network within 5 minutes; try again in a minute.",
    }
    door = re.compile(DOOR_PATH["RegexMatchStatement"]["RegexString"])
    for path in ("/api/events/partos-engagement-mobilisatie-2023/door/checkins", "/api/events/x-1/door/undo",
                 "/api/events/x/door/search"):
        assert door.search(path), path
    for path in ("/api/events/x/registrations", "/api/registrations/abc/cancel", "/api/events/door/registrations",
                 "/api/events/x/door/checkins/extra"):
        assert not door.search(path), path


def test_rate_rule_answers_429_problem_json_with_retry_after_and_cors(prod):
    response = _rule(prod, "PostsPerClientIp")["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers == {
        "Retry-After": "300",
        "Access-Control-Allow-Origin": "https://www.partos.nl",
        "Vary": "Origin",
    }
    body = _web_acl(prod)["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"]) == {
        "type": "/problems/too-many-requests",
        "title": "Too many requests",
        "status": 429,
        "detail": "More than 100 posts from your network within 5 minutes; try again in a few minutes.",
    }


def test_common_rule_set_blocks_but_only_counts_bodies_over_8_kb(prod):
    rule = _rule(prod, "AWSCommonRules")
    assert rule["OverrideAction"] == {"None": {}}, "the group's own actions (block) apply"
    group = rule["Statement"]["ManagedRuleGroupStatement"]
    assert (group["VendorName"], group["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    # SizeRestrictions_BODY blocks bodies over 8 KB; the app takes up to 16 KiB (413 above).
    assert group["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]


def test_waf_metrics_and_samples_for_every_rule(prod):
    acl = _web_acl(prod)
    configs = [acl["VisibilityConfig"]] + [r["VisibilityConfig"] for r in acl["Rules"]]
    for config in configs:
        assert config["CloudWatchMetricsEnabled"] is True and config["SampledRequestsEnabled"] is True
    names = [c["MetricName"] for c in configs]
    assert len(set(names)) == len(names)


# -- Access logs --------------------------------------------------------------------


def test_access_logs_are_json_without_query_strings(prod):
    setting = prod.resources["RestAPI"]["Properties"]["AccessLogSetting"]
    group_id = setting["DestinationArn"]["Fn::GetAtt"][0]
    group = prod.resources[group_id]["Properties"]
    assert group["LogGroupName"] == "/aws/apigateway/event-registration-prod-access"
    assert group["RetentionInDays"] == 90
    fields = json.loads(setting["Format"])
    assert fields["resourcePath"] == "$context.resourcePath"
    assert fields["path"] == "$context.path"
    assert fields["status"] == "$context.status"
    assert fields["wafStatus"] == "$context.waf.status"
    # Tokens travel in ?token=: nothing that carries the query string or the
    # raw request line; no personal data (source IP, user agent).
    text = setting["Format"]
    for leak in ("requestOverride", "querystring", "queryString", "identity.sourceIp",
                 "identity.userAgent", "$context.domainName$context.path"):
        assert leak not in text, leak
    assert all(value.startswith("$context.") for value in fields.values())


def test_api_gateway_may_write_the_logs(prod):
    account_id, account = prod.one("AWS::ApiGateway::Account")
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = prod.resources[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    managed = json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert "service-role/AmazonAPIGatewayPushToCloudWatchLogs" in managed
    assert "Policies" not in role["Properties"]
    # The account setting outlives the stack: another stage may log with it.
    assert role["DeletionPolicy"] == "Retain"
    assert account_id in prod.resources["RestAPI"]["DependsOn"]


# -- Functions: concurrency, memory, entry -------------------------------------------


@pytest.mark.parametrize(
    "stage, api, deliver", [("prod", (1024, 200), (1024, 5)), ("dev", (1024, 10), (1024, 2))]
)
def test_memory_and_reserved_concurrency_per_stage(stage, api, deliver, request):
    t = request.getfixturevalue(stage)
    functions = t.of_type("AWS::Serverless::Function")
    for logical, (memory, reserved) in (("APIHandler", api), ("DeliverEmails", deliver)):
        props = functions[logical]["Properties"]
        assert (props["MemorySize"], props["ReservedConcurrentExecutions"]) == (memory, reserved)
    assert t.settings.api_memory_mb == api[0] and t.settings.deliver_reserved_concurrency == deliver[1]


def test_deliver_emails_has_its_own_entry_module(prod):
    functions = prod.of_type("AWS::Serverless::Function")
    assert functions["DeliverEmails"]["Properties"]["Handler"] == "chalicelib.entry_deliver.handler"
    assert functions["RunDueJobs"]["Properties"]["Handler"] == "chalicelib.entry_jobs.handler"
    assert functions["APIHandler"]["Properties"]["Handler"] == "app.app"


@pytest.mark.parametrize("entry", ["entry_deliver", "entry_jobs"])
def test_entry_module_imports_neither_app_nor_chalice(entry):
    """Importing DeliverEmails' (or RunDueJobs') entry loads its own code only (a fresh interpreter)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        f"import sys; import chalicelib.{entry} as e; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'chalice')));"
        "print(callable(e.handler))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"]


# -- Alarms reach someone ---------------------------------------------------------------


def test_alarm_email_is_subscribed_when_set(dev, prod):
    _, subscription = dev.one("AWS::SNS::Subscription")
    topic_id, _ = dev.one("AWS::SNS::Topic")
    assert subscription["Properties"] == {
        "Protocol": "email",
        "TopicArn": {"Ref": topic_id},
        "Endpoint": DEV_ALARM_EMAIL,
    }
    # prod synthesises without one (tests, make synth); make deploy refuses it (preflight).
    assert prod.of_type("AWS::SNS::Subscription") == {}
