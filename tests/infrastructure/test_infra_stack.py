"""Assertions on the synthesised CloudFormation templates (no AWS needed)."""
from __future__ import annotations

import json

import pytest
from stage_settings import chalice_stage_environment

FORM_PATH = "/events/partos-engagement-mobilisatie-2023/register"


def _list(value):
    return value if isinstance(value, list) else [value]


def _all_statements(t):
    """(policy owner logical id, statement) for every IAM statement."""
    for logical, resource in t.resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical, statement
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in props["PolicyDocument"]["Statement"]:
                yield logical, statement


def _statements(document) -> dict[str, tuple[list[str], list]]:
    """{Sid: (sorted actions, resources)} of a policy document."""
    return {
        st["Sid"]: (sorted(_list(st["Action"])), _list(st["Resource"]))
        for st in document["Statement"]
    }


def _function_role_statements(t, function: str) -> dict[str, tuple[list[str], list]]:
    """The inline policy statements of the role a function runs as."""
    role_id = t.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = t.resources[role_id]["Properties"]["Policies"]
    assert len(policies) == 1
    return _statements(policies[0]["PolicyDocument"])


def _queue_id(t, prefix: str) -> str:
    """Logical id of the SQS queue whose id starts with ``prefix`` (``DeliverEmailsDLQ``, ``EmailEventsDLQ``)."""
    (found,) = [logical for logical in t.of_type("AWS::SQS::Queue") if logical.startswith(prefix)]
    return found


def _arns(t):
    """The CloudFormation expressions of the stack's ARNs."""
    table = t.id_of("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    bucket_arn = {"Fn::GetAtt": [t.id_of("AWS::S3::Bucket"), "Arn"]}
    logs = {
        g["Properties"]["LogGroupName"].rsplit("-", 1)[1]: {"Fn::GetAtt": [logical, "Arn"]}
        for logical, g in t.of_type("AWS::Logs::LogGroup").items()
    }
    return {
        "table": table_arn,
        "index": {"Fn::Join": ["", [table_arn, "/index/by-registration"]]},
        "exports": {"Fn::Join": ["", [table_arn, "/export/*"]]},
        "stream": {"Fn::GetAtt": [table, "StreamArn"]},
        "secret": {"Ref": t.id_of("AWS::SecretsManager::Secret")},
        "queue": {"Fn::GetAtt": [_queue_id(t, "DeliverEmailsDLQ"), "Arn"]},
        "feedback_queue": {"Fn::GetAtt": [_queue_id(t, "EmailEventsDLQ"), "Arn"]},
        "bucket": bucket_arn,
        "objects": {"Fn::Join": ["", [bucket_arn, "/*"]]},
        "api_logs": logs["APIHandler"],
        "deliver_logs": logs["DeliverEmails"],
        "jobs_logs": logs["RunDueJobs"],
        "feedback_logs": logs["RecordEmailEvents"],
    }


def _ses_arn(resource: str) -> dict:
    return {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":ses:eu-west-1:", {"Ref": "AWS::AccountId"}, f":{resource}"],
        ]
    }


def _ses_identity(name: str) -> dict:
    return _ses_arn(f"identity/{name}")


# -- DynamoDB ----------------------------------------------------------------


def test_table_keys_index_and_billing(prod):
    _, table = prod.one("AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "pk", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert {"AttributeName": "sk", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert {"AttributeName": "registration_id", "AttributeType": "S"} in props[
        "AttributeDefinitions"
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    # The name the app's prod config uses.
    assert props["TableName"] == chalice_stage_environment("prod")["TABLE_NAME"]
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-registration",
            "KeySchema": [{"AttributeName": "registration_id", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]


def test_table_pitr_ttl_stream(prod):
    _, table = prod.one("AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_prod_table_is_protected_and_retained(prod):
    _, table = prod.one("AWS::DynamoDB::Table")
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    _, secret = prod.one("AWS::SecretsManager::Secret")
    assert secret["DeletionPolicy"] == "Retain"


def test_dev_table_can_be_torn_down(dev):
    _, table = dev.one("AWS::DynamoDB::Table")
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    assert table["DeletionPolicy"] == "Delete"
    # Same shape as prod otherwise.
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


# -- Stream consumer -----------------------------------------------------------


def test_stream_wired_to_deliver_emails_with_dlq(prod):
    _, mapping = prod.one("AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    table_id, _ = prod.one("AWS::DynamoDB::Table")
    queue_id = _queue_id(prod, "DeliverEmailsDLQ")
    assert props["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert "DeliverEmails" in json.dumps(props["FunctionName"])
    assert "APIHandler" not in json.dumps(props["FunctionName"])
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == 3
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}
    }
    assert props["BatchSize"] == 10
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["MaximumRecordAgeInSeconds"] == 86400


def test_stream_filter_is_the_one_chalicelib_defines(prod):
    """DeliverEmails is invoked only for records that ask for an email (chalicelib.streamfilter)."""
    from chalicelib.streamfilter import STREAM_FILTER_PATTERN

    _, mapping = prod.one("AWS::Lambda::EventSourceMapping")
    (only,) = mapping["Properties"]["FilterCriteria"]["Filters"]
    assert json.loads(only["Pattern"]) == STREAM_FILTER_PATTERN


def test_dead_letter_queues_are_encrypted_and_kept_14_days(prod):
    queues = prod.of_type("AWS::SQS::Queue")
    assert len(queues) == 2  # DeliverEmails' and RecordEmailEvents'
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


# -- Functions -----------------------------------------------------------------


def _functions(t):
    return t.of_type("AWS::Serverless::Function")


def test_functions_and_their_environment(prod):
    functions = _functions(prod)
    assert set(functions) == {"APIHandler", "DeliverEmails", "RecordEmailEvents", "RunDueJobs"}
    table_id, _ = prod.one("AWS::DynamoDB::Table")
    secret_id, _ = prod.one("AWS::SecretsManager::Secret")
    bucket_id, _ = prod.one("AWS::S3::Bucket")
    app_env = chalice_stage_environment("prod")
    for logical, function in functions.items():
        props = function["Properties"]
        assert props["FunctionName"] == f"event-registration-prod-{logical}"
        env = props["Environment"]["Variables"]
        assert env["STAGE"] == "prod"
        assert env["TABLE_NAME"] == {"Ref": table_id}
        # The app's values for the stage, from .chalice/config.json.
        assert env["SENDER_EMAIL"] == app_env["SENDER_EMAIL"]
        assert env["RETENTION_DAYS"] == app_env["RETENTION_DAYS"]
        assert env["ALLOWED_ORIGINS"] == app_env["ALLOWED_ORIGINS"]
        assert "TOKEN_KEYS" not in env, "deployed stages read the key from Secrets Manager"
        assert env["TOKEN_SECRET_ARN"] == {"Ref": secret_id}
        assert env["EXPORT_BUCKET"] == {"Ref": bucket_id}
        assert env["SES_CONFIGURATION_SET"] == {"Ref": "EmailConfigurationSet"}
    # The API cannot reference its own URL; the stream function gets it.
    assert functions["APIHandler"]["Properties"]["Environment"]["Variables"]["PUBLIC_BASE_URL"] == ""
    deliver_url = functions["DeliverEmails"]["Properties"]["Environment"]["Variables"][
        "PUBLIC_BASE_URL"
    ]
    assert {"Ref": "RestAPI"} in deliver_url["Fn::Join"][1]
    assert deliver_url["Fn::Join"][1][-1].endswith("/api")


def test_the_api_function_gives_up_on_aws_before_the_gateway_does(prod):
    """An AWS call nobody answers must end in our 503 before API Gateway's 29 s (then a bare 504)."""
    from chalicelib.aws import worst_case_seconds
    from chalicelib.settings import Settings

    functions = _functions(prod)
    api_env = functions["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert (api_env["AWS_MAX_ATTEMPTS"], api_env["AWS_READ_TIMEOUT"]) == ("3", "3")
    api = Settings(AWS_MAX_ATTEMPTS=api_env["AWS_MAX_ATTEMPTS"], AWS_READ_TIMEOUT=api_env["AWS_READ_TIMEOUT"])
    assert worst_case_seconds(api.aws_max_attempts, api.aws_read_timeout) == 3 * (3 + 3) + 1 + 2 < 29
    for patient in ("DeliverEmails", "RunDueJobs", "RecordEmailEvents"):
        env = functions[patient]["Properties"]["Environment"]["Variables"]
        assert "AWS_MAX_ATTEMPTS" not in env and "AWS_READ_TIMEOUT" not in env, patient


def test_each_function_has_its_own_stack_role_and_log_group(prod):
    roles = prod.of_type("AWS::IAM::Role")
    functions = _functions(prod)
    used = {}
    for logical, function in functions.items():
        props = function["Properties"]
        assert "Policies" not in props, "SAM would create an extra role"
        role_ref = props["Role"]["Fn::GetAtt"]
        assert role_ref[1] == "Arn" and role_ref[0] in roles
        used[logical] = role_ref[0]
        log_groups = [
            prod.resources[d] for d in function.get("DependsOn", [])
            if prod.resources[d]["Type"] == "AWS::Logs::LogGroup"
        ]
        assert [g["Properties"]["LogGroupName"] for g in log_groups] == [
            f"/aws/lambda/event-registration-prod-{logical}"
        ]
        assert log_groups[0]["Properties"]["RetentionInDays"] == 90
    assert len(set(used.values())) == 4, "one role per function"
    # No role other than the four function roles (Chalice manages none) and
    # the one API Gateway writes access logs with (test_infra_abuse.py).
    others = set(roles) - set(used.values())
    assert [roles[r]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            for r in others] == [{"Service": "apigateway.amazonaws.com"}]


# -- Least privilege -------------------------------------------------------------


def test_no_wildcard_actions_and_no_star_resources_for_data(prod):
    statements = list(_all_statements(prod))
    assert statements
    for owner, statement in statements:
        assert statement["Effect"] == "Allow", owner
        actions = _list(statement["Action"])
        for action in actions:
            assert "*" not in action, f"{owner}: wildcard action {action}"
        if "*" in _list(statement["Resource"]):
            # ListStreams is the only action here that takes no resource ARN.
            assert actions == ["dynamodb:ListStreams"], f"{owner}: Resource * for {actions}"


def test_api_role_statements(prod):
    arn = _arns(prod)
    assert _function_role_statements(prod, "APIHandler") == {
        "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [arn["api_logs"]]),
        "Table": (
            [
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            [arn["table"]],
        ),
        "Index": (["dynamodb:Query"], [arn["index"]]),
        "TokenKey": (["secretsmanager:GetSecretValue"], [arn["secret"]]),
    }


def test_deliver_role_statements(prod):
    arn = _arns(prod)
    assert _function_role_statements(prod, "DeliverEmails") == {
        "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [arn["deliver_logs"]]),
        "Stream": (
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [arn["stream"]],
        ),
        "ListStreams": (["dynamodb:ListStreams"], ["*"]),
        # PutItem: the message lookup item, in the transaction that records ``sent``.
        "Table": (
            ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            [arn["table"]],
        ),
        # SES authorises a send on the identity and on the configuration set it names.
        "SendFromSender": (
            ["ses:SendEmail", "ses:SendRawEmail"],
            [_ses_identity("events@partos.example.org"), _ses_identity("partos.example.org"),
             _ses_arn("configuration-set/event-registration-prod")],
        ),
        "TokenKey": (["secretsmanager:GetSecretValue"], [arn["secret"]]),
        "OnFailureDestination": (["sqs:SendMessage"], [arn["queue"]]),
    }


def test_jobs_role_statements(prod):
    arn = _arns(prod)
    assert _function_role_statements(prod, "RunDueJobs") == {
        "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [arn["jobs_logs"]]),
        "Table": (["dynamodb:Query", "dynamodb:UpdateItem"], [arn["table"]]),
    }


def test_run_due_jobs_is_scheduled_every_five_minutes_one_run_at_a_time(prod):
    """The EventBridge schedule rule comes from ``@app.schedule`` through chalice.cdk (SAM's Schedule event)."""
    props = _functions(prod)["RunDueJobs"]["Properties"]
    assert props["Events"] == {"RunDueJobsEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}}
    assert props["Handler"] == "chalicelib.entry_jobs.handler"
    assert (props["MemorySize"], props["ReservedConcurrentExecutions"], props["Timeout"]) == (256, 1, 300)
    assert props["FunctionName"] == "event-registration-prod-RunDueJobs"


def test_record_email_events_role_statements(prod):
    """Exactly what RecordEmailEvents does: a GetItem of the message lookup item, an UpdateItem of the
    registration, logs, and its dead-letter queue (Lambda's on-failure destination uses the role)."""
    arn = _arns(prod)
    assert _function_role_statements(prod, "RecordEmailEvents") == {
        "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [arn["feedback_logs"]]),
        "Table": (["dynamodb:GetItem", "dynamodb:UpdateItem"], [arn["table"]]),
        "OnFailureDestination": (["sqs:SendMessage"], [arn["feedback_queue"]]),
    }


def test_staff_policy(prod):
    _, policy = prod.one("AWS::IAM::ManagedPolicy")
    arn = _arns(prod)
    assert policy["Properties"]["ManagedPolicyName"] == "event-registration-prod-staff"
    assert _statements(policy["Properties"]["PolicyDocument"]) == {
        "Registrations": (
            [
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            [arn["table"], arn["index"]],
        ),
        # No UpdateContinuousBackups: the stack keeps point-in-time recovery on.
        "Export": (
            [
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:DescribeTable",
                "dynamodb:ExportTableToPointInTime",
                "dynamodb:ListExports",
            ],
            [arn["table"]],
        ),
        "StackOutputs": (["cloudformation:DescribeStacks"], [{"Ref": "AWS::StackId"}]),
        # python -m staff checkin-link signs door links with the token key (README, "Check-in at the door").
        "SignDoorLinks": (["secretsmanager:GetSecretValue"], [arn["secret"]]),
        "DescribeExport": (["dynamodb:DescribeExport"], [arn["exports"]]),
        "ExportBucket": (["s3:ListBucket"], [arn["bucket"]]),
        "ExportObjects": (
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
            [arn["objects"]],
        ),
        # The README tells staff to delete export files: only under exports/.
        "DeleteExportFiles": (
            ["s3:DeleteObject"],
            [{"Fn::Join": ["", [arn["bucket"], "/exports/*"]]}],
        ),
    }


# -- API Gateway ------------------------------------------------------------------


@pytest.mark.parametrize("stage, rate, burst", [("prod", 500, 1000), ("dev", 50, 100)])
def test_api_stage_throttling(stage, rate, burst, request):
    t = request.getfixturevalue(stage)
    props = t.resources["RestAPI"]["Properties"]
    assert props["Name"] == f"event-registration-{stage}"
    assert props["StageName"] == "api"
    assert props["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": rate,
            "ThrottlingBurstLimit": burst,
        }
    ]


def test_outputs_api_and_form_url(prod):
    outputs = prod.template["Outputs"]
    api = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert api[0] == "https://" and {"Ref": "RestAPI"} in api and api[-1] == "/api"
    form = outputs["FormUrl"]["Value"]["Fn::Join"][1]
    assert form[-1].endswith(FORM_PATH)
    for name in ("TableName", "ExportBucketName", "TokenSecretArn", "StaffPolicyArn",
                 "DeadLetterQueueUrl", "AlarmTopicArn", "EmailEventsDeadLetterQueueUrl", "ConfigurationSetName"):
        assert name in outputs


# -- Alarms --------------------------------------------------------------------------


def test_alarms(prod):
    alarms = list(prod.of_type("AWS::CloudWatch::Alarm").values())
    topic_id, _ = prod.one("AWS::SNS::Topic")
    by_metric = {}
    for alarm in alarms:
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic_id}]
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["TreatMissingData"] == "notBreaching"
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        by_metric.setdefault((props["Namespace"], props["MetricName"]), []).append(
            (dims, props["Threshold"], props["Statistic"], props["Period"]))
    five = 300
    assert by_metric[("AWS/ApiGateway", "5XXError")] == [
        ({"ApiName": "event-registration-prod", "Stage": "api"}, 1, "Sum", five)
    ]
    assert sorted(d["FunctionName"] for d, *_ in by_metric[("AWS/Lambda", "Errors")]) == [
        "event-registration-prod-APIHandler",
        "event-registration-prod-DeliverEmails",
        "event-registration-prod-RecordEmailEvents",
        "event-registration-prod-RunDueJobs",
    ]
    assert sorted(by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible")], key=str) == sorted([
        ({"QueueName": {"Fn::GetAtt": [_queue_id(prod, "DeliverEmailsDLQ"), "QueueName"]}}, 1, "Maximum", five),
        ({"QueueName": {"Fn::GetAtt": [_queue_id(prod, "EmailEventsDLQ"), "QueueName"]}}, 1, "Maximum", five),
    ], key=str)
    # The stage's SES reputation, below AWS's review levels (about 5% bounces, 0.1% complaints).
    stage = {"ses:configuration-set": "event-registration-prod"}
    assert by_metric[("AWS/SES", "Reputation.BounceRate")] == [(stage, 0.04, "Maximum", 3600)]
    assert by_metric[("AWS/SES", "Reputation.ComplaintRate")] == [(stage, 0.0008, "Maximum", 3600)]
    assert len(alarms) == 9


# -- Secrets and storage -----------------------------------------------------------------


def test_token_key_is_generated_not_in_template(prod):
    _, secret = prod.one("AWS::SecretsManager::Secret")
    props = secret["Properties"]
    assert props["GenerateSecretString"] == {"ExcludePunctuation": True, "PasswordLength": 64}
    assert "SecretString" not in props
    text = prod.template_path.read_text()
    assert "SecretString" not in text.replace("GenerateSecretString", "")
    for function in _functions(prod).values():
        env = function["Properties"]["Environment"]["Variables"]
        assert set(env) == {
            "STAGE", "TABLE_NAME", "SENDER_EMAIL", "RETENTION_DAYS", "PUBLIC_BASE_URL",
            "ALLOWED_ORIGINS", "TOKEN_SECRET_ARN", "EXPORT_BUCKET", "SES_CONFIGURATION_SET",
        } | set(_app_env_keys(function))


def _app_env_keys(function):
    """Extra variables the app's own .chalice/config.json may set."""
    known = {"STAGE", "TABLE_NAME", "SENDER_EMAIL", "RETENTION_DAYS", "PUBLIC_BASE_URL",
             "ALLOWED_ORIGINS", "TOKEN_SECRET_ARN", "EXPORT_BUCKET", "SES_CONFIGURATION_SET"}
    env = function["Properties"]["Environment"]["Variables"]
    extra = set(env) - known
    for key in extra:
        value = json.dumps(env[key]).lower()
        assert not any(word in key.lower() for word in ("secret", "key", "password", "token")), (
            f"{key} looks like a secret set in plain text; use Secrets Manager"
        )
        assert value is not None
    return extra


def test_export_bucket_private_encrypted_tls_only_expiring(prod):
    _bucket_id, bucket = prod.one("AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert rules[0]["ExpirationInDays"] == 30 and rules[0]["Status"] == "Enabled"
    _, policy = prod.one("AWS::S3::BucketPolicy")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] == {"AWS": "*"}
    assert bucket["DeletionPolicy"] == "Retain"


# -- The app's AWS calls are allowed ---------------------------------------------

_DYNAMODB_OPERATIONS = {
    "get_item": "GetItem", "put_item": "PutItem", "update_item": "UpdateItem",
    "delete_item": "DeleteItem", "query": "Query", "scan": "Scan",
    "batch_get_item": "BatchGetItem", "batch_write_item": "BatchWriteItem",
    "transact_get_items": "GetItem",
}


def _app_dynamodb_actions() -> set[str]:
    """IAM actions of every DynamoDB call in app.py and chalicelib/ (static scan)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = "\n".join(
        p.read_text() for p in [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]
    )
    actions = set()
    for op in re.findall(r"_ddb\(\)\.(\w+)\(", source) + re.findall(
        r"get_paginator\(\"(\w+)\"\)", source
    ):
        if op == "transact_write_items":
            continue  # authorised per item, below
        if op != "get_paginator":
            assert op in _DYNAMODB_OPERATIONS, f"unknown DynamoDB call {op}: map it"
            actions.add("dynamodb:" + _DYNAMODB_OPERATIONS[op])
    for kind in re.findall(r"[{\s]\"(Put|Update|Delete|ConditionCheck)\":\s*[{\w]", source):
        actions.add("dynamodb:" + {"ConditionCheck": "ConditionCheckItem"}.get(kind, kind + "Item"))
    return actions


def test_every_dynamodb_call_of_the_app_is_allowed(prod):
    """A new DynamoDB call in the app must come with its IAM action here.

    moto does not enforce IAM, so the app's tests cannot catch a missing
    action; this scan of the source does.  Scan is staff-only (listing events).
    """
    used = _app_dynamodb_actions()
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"} <= used
    allowed = set(_function_role_statements(prod, "APIHandler")["Table"][0])
    _, staff = prod.one("AWS::IAM::ManagedPolicy")
    staff_actions = {
        a for st in staff["Properties"]["PolicyDocument"]["Statement"] for a in _list(st["Action"])
    }
    assert used - allowed <= {"dynamodb:Scan"} and used <= allowed | staff_actions, (
        f"not allowed to the API function: {sorted(used - allowed)}"
    )


def test_gateway_answers_are_problem_json_with_cors(prod):
    import json as _json

    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in prod.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {"MISSING_AUTHENTICATION_TOKEN", "INCOMPLETE_SIGNATURE", "THROTTLED", "WAF_FILTERED",
                              "DEFAULT_4XX", "DEFAULT_5XX"}
    for unknown_route in ("MISSING_AUTHENTICATION_TOKEN", "INCOMPLETE_SIGNATURE"):  # with an Authorization header
        missing = responses[unknown_route]
        assert missing["StatusCode"] == "404"
        assert _json.loads(missing["ResponseTemplates"]["application/json"])["type"] == "/problems/not-found"
    throttled = responses["THROTTLED"]
    assert throttled["StatusCode"] == "429"
    assert _json.loads(throttled["ResponseTemplates"]["application/json"])["status"] == 429
    # AWS WAF's common rule set blocks (the rate rule answers 429 itself, below).
    filtered = responses["WAF_FILTERED"]
    assert filtered["StatusCode"] == "403"
    assert _json.loads(filtered["ResponseTemplates"]["application/json"]) == {
        "type": "/problems/forbidden",
        "title": "Request refused",
        "status": 403,
        "detail": "The request looks like an attack and was refused. If you were registering, "
                  "remove unusual markup from your answers and try again.",
    }
    for properties in responses.values():
        assert properties["ResponseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        assert properties["ResponseParameters"]["gatewayresponse.header.Cache-Control"] == "'no-store'"
        assert properties["ResponseParameters"]["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
        assert properties["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://www.partos.nl'"


def _operation_actions(operation: str, params: dict) -> set[str]:
    """The IAM actions one DynamoDB request needs (a transaction: one per item it holds)."""
    if operation == "TransactWriteItems":
        kinds = {kind for item in params["TransactItems"] for kind in item}
        return {"dynamodb:" + {"ConditionCheck": "ConditionCheckItem"}.get(k, k + "Item") for k in kinds}
    if operation == "TransactGetItems":
        return {"dynamodb:GetItem"}
    return {"dynamodb:" + operation}


def test_every_aws_call_of_the_scheduled_function_is_allowed_and_nothing_more(prod, aws, monkeypatch):
    """Runs RunDueJobs' handler against moto with due jobs (an event past its waitlist cutoff with
    people waiting; another whose reminder is due, with people to remind), recording every AWS
    request on the wire: each is allowed by the function's role, on the table (no index), and the
    role allows nothing it did not use.

    moto does not enforce IAM, and the scheduled function reaches the table through ``chalicelib.store``,
    so a static scan of its module would miss calls; this runs them.
    """
    from datetime import timedelta

    from chalicelib import aws as clients
    from chalicelib import clock, entry_jobs, registrations, store
    from chalicelib.events import parse_event
    from tests.staff.conftest import CASES_EVENT, person
    from tests.test_reminders import set_clock

    zone = parse_event(CASES_EVENT).zone
    now = clock.now().astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    later = {
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1, hours=2)).isoformat(),
    }
    store.put_event(parse_event({**CASES_EVENT, **later, "capacity": 1, "questions": []}))
    for n in range(3):
        registrations.register(CASES_EVENT["id"], person(f"P{n}", f"p{n}@example.org"), "nl")
    running = {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    store.put_event(parse_event({**CASES_EVENT, **running, "capacity": 1, "questions": [], "reminders": []}))
    tomorrow = {"starts_at": (now + timedelta(days=1, minutes=2)).isoformat(),
                "ends_at": (now + timedelta(days=1, hours=2)).isoformat()}
    store.put_event(parse_event({**CASES_EVENT, **tomorrow, "id": "reminded-event", "capacity": None, "questions": []}))
    for n in range(2):
        registrations.register("reminded-event", person(f"R{n}", f"r{n}@example.org"), "nl")
    set_clock(monkeypatch, clock.now() + timedelta(minutes=3))  # past the reminder's time

    calls: list[tuple[str, str, dict]] = []

    def record(model, params, **_):
        calls.append((model.service_model.service_name, model.name, params))

    services = ("dynamodb", "sesv2", "dynamodbstreams", "secretsmanager", "s3")
    for service in services:
        clients.client(service).meta.events.register("before-call", record)
    try:
        result = entry_jobs.handler({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, None)
    finally:
        for service in services:
            clients.client(service).meta.events.unregister("before-call", record)
    assert result["done"] == [{"event_id": "reminded-event", "job": "reminder_1d", "changes": 2},
                              {"event_id": CASES_EVENT["id"], "job": "waitlist_closed", "changes": 2}]

    assert {service for service, _, _ in calls} == {"dynamodb"}
    assert all("IndexName" not in params for _, _, params in calls), "the role allows the table, not the index"
    used = set().union(*(_operation_actions(op, params) for _, op, params in calls))
    allowed = set(_function_role_statements(prod, "RunDueJobs")["Table"][0])
    assert used == allowed
