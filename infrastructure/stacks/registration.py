"""The event-registration stack: one CloudFormation stack per Chalice stage.

The Chalice app at the repo root is packaged by ``chalice.cdk.Chalice`` (the
same code path as ``chalice package``), trimmed and compiled by
``lambda_package.rebuild``, and imported into this stack.  Chalice does not
manage any IAM role (``manage_iam_role: false``): each Lambda function gets
a role defined here with only the actions it calls, on the resources of
this stack.  In front of the API: an AWS WAF web ACL (a per-client rate
limit on POST routes and AWS's common rule set) and the stage's throttle;
API Gateway writes JSON access logs without query strings (tokens travel
in them).  Every email names the stage's SES configuration set, whose
delivery, bounce, complaint, reject and delay events reach the
``RecordEmailEvents`` function through EventBridge.  docs/deploy.md
describes every resource.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import lambda_package
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from constructs import Construct
from stage_settings import APP_NAME, StageSettings

#: Logical IDs of the resources that ``chalice package`` generates.
API_FUNCTION = "APIHandler"
DELIVER_FUNCTION = "DeliverEmails"
FEEDBACK_FUNCTION = "RecordEmailEvents"
REST_API = "RestAPI"
#: Handler of DeliverEmails in Lambda: a small entry module that does not
#: import ``app.py`` (routes, pages) nor Chalice.  ``app.py`` keeps its
#: ``@app.lambda_function(name="DeliverEmails")`` so that Chalice creates the
#: function and ``make run`` finds it.
DELIVER_HANDLER = "chalicelib.entry_deliver.handler"
#: The scheduled function (``@app.schedule(..., name="RunDueJobs")``, ``chalicelib/jobs.py``):
#: Chalice packages it with its EventBridge rule; its Handler is a small entry module too.
JOBS_FUNCTION = "RunDueJobs"
JOBS_HANDLER = "chalicelib.entry_jobs.handler"
#: RunDueJobs is I/O bound (one conditional write per waiting registrant); memory in MB.
JOBS_MEMORY_MB = 256
#: Seconds a run may take (the jobs stop starting writes 30 s before; the next run carries on).
JOBS_TIMEOUT_SECONDS = 300
#: One run at a time: two at once would only repeat each other's conditional writes.
JOBS_RESERVED_CONCURRENCY = 1
#: Handler of RecordEmailEvents in Lambda, likewise without ``app.py``.
FEEDBACK_HANDLER = "chalicelib.entry_feedback.handler"
#: The API function's tries and per-try read timeout (seconds) of each AWS call (README, "Deploying":
#: AWS calls; ``chalicelib.settings``): a call AWS does not answer gives up within 21 s
#: (``chalicelib.aws.worst_case_seconds``), inside API Gateway's 29 s integration timeout, so the
#: client gets 503 ``unavailable`` with ``Retry-After`` rather than the gateway's bare 504. The other
#: functions keep the settings' defaults (6 tries of 10 s): nobody waits on them.
API_AWS_CALLS = {"AWS_MAX_ATTEMPTS": "3", "AWS_READ_TIMEOUT": "3"}
#: API Gateway's integration timeout for a Lambda proxy (seconds; AWS quota, not raised here).
GATEWAY_TIMEOUT_SECONDS = 29
#: Global secondary index the app queries by registration id.
REGISTRATION_INDEX = "by-registration"
#: Table item attribute holding the expiry time (epoch seconds) for TTL.
TTL_ATTRIBUTE = "expires_at"

# DynamoDB item actions the app performs (chalicelib/store/).
# TransactWriteItems has no IAM action of its own: each item in a
# transaction is authorised as the PutItem / UpdateItem / DeleteItem /
# ConditionCheckItem it contains.  tests/infrastructure checks that every
# DynamoDB operation in the app's code is allowed here or to staff.
API_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",  # registration_with_position, get_event: a few items in one read
    "dynamodb:DeleteItem",  # cancel_transition: deletes the address guard
    "dynamodb:GetItem",
    "dynamodb:PutItem",  # put_registration (transaction)
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
# delivery.handle_batch: event_definition (GetItem), waitlist_position
# (BatchGetItem of two items), claim_notification and record_notification
# (UpdateItem), record_sent (a transaction: Update of the registration, Put of
# the message lookup item).
DELIVER_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
]
# feedback.handle_event: find_message (GetItem), record_feedback (UpdateItem).
FEEDBACK_TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
]
# jobs.run_due: the catalogue and the waitlist buckets (Query); store.add_notification
# and store.mark_job_done (conditional UpdateItem). tests/infrastructure runs the function
# against moto and checks that every call it makes is allowed here, and nothing more.
JOBS_TABLE_ACTIONS = [
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
INDEX_ACTIONS = ["dynamodb:Query"]
STREAM_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
]
# SES v2 SendEmail with raw content is authorised as ses:SendRawEmail as
# well as ses:SendEmail.
SES_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]
DLQ_ACTIONS = ["sqs:SendMessage"]

#: SES event types the configuration set publishes (SES v2 ``EventType``), and the
#: EventBridge ``detail-type`` of each, which the rule matches
#: (``chalicelib.feedback.DETAIL_TYPES``; a test checks they agree).
SES_EVENT_TYPES = {
    "DELIVERY": "Email Delivered",
    "BOUNCE": "Email Bounced",
    "COMPLAINT": "Email Complaint Received",
    "REJECT": "Email Rejected",
    "DELIVERY_DELAY": "Email Delivery Delayed",
}
#: Lambda's retries of an asynchronous invocation that raised (0-2), and how long an
#: SES event may wait for them (seconds): then it goes to the dead-letter queue.
FEEDBACK_RETRY_ATTEMPTS = 2
FEEDBACK_MAX_EVENT_AGE_SECONDS = 6 * 3600
#: EventBridge's own retries when it cannot invoke the function (throttled, not found).
EVENTBRIDGE_RETRY_ATTEMPTS = 185
EVENTBRIDGE_MAX_EVENT_AGE_SECONDS = 24 * 3600

REPO_ROOT = Path(__file__).resolve().parents[2]

#: API Gateway access log line (JSON, one object per request).  Only the
#: resource template and the path, never ``$context.requestOverride`` or the
#: query string: the links in emails carry a token in ``?token=``.  No
#: source IP or user agent: personal data stays out of logs (AWS WAF acts
#: on IPs without our logging them).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "wafLatency": "$context.waf.latency",
}

#: The managed rule group of common attacks (OWASP-style) and the rule in
#: it that would refuse legitimate posts: SizeRestrictions_BODY blocks bodies
#: over 8 KB, and the app accepts up to 16 KiB (413 body-too-large above,
#: README "HTTP API").  That rule only counts.
#: The door page's posts (README, "Check-in at the door": check in, undo, search), which venue Wi-Fi
#: sends from one address: a busy door (4 phones, a scan every 3 s each, and searches) is about 400
#: posts in 5 minutes, four times the registration limit. They count against this limit instead,
#: per client IP and window; each needs a door link, refused (403) before anything is read.
DOOR_POST_PATH = r"/events/[a-z0-9-]+/door/(checkins|undo|search)$"
DOOR_POSTS_PER_WINDOW = 1500
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
COUNTED_COMMON_RULES = ("SizeRestrictions_BODY",)


class PackagedChalice(Chalice):
    """``chalice.cdk.Chalice`` whose deployment zip is trimmed and compiled.

    Chalice packages into ``chalice.out/<id>/deployment.zip`` and then makes
    it a CDK asset; rewriting the zip between the two (``_package_app`` of
    the pinned chalice 1.34) puts the smaller package into the stack.  The
    infrastructure tests check the asset in ``cdk.out`` carries bytecode and
    no trimmed file, so a Chalice upgrade that moves this hook fails them.
    """

    def _package_app(self) -> None:
        super()._package_app()
        package_dir = Path(self._sam_package_dir)
        runtime = lambda_package.functions_runtime(package_dir / "sam.json")
        report = lambda_package.rebuild(package_dir / "deployment.zip", runtime)
        print(report.summary(), file=sys.stderr)


def delivery_filter_pattern() -> dict:
    """The stream records DeliverEmails is invoked for, defined once in ``chalicelib/streamfilter.py``.

    Loaded from the file: the app's package is not importable from this process.
    """
    spec = importlib.util.spec_from_file_location("_streamfilter", REPO_ROOT / "chalicelib" / "streamfilter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.STREAM_FILTER_PATTERN


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    """Temporarily change the working directory.

    ``chalice.cdk.Chalice`` writes its packaging output to ``./chalice.out``;
    running it inside the CDK output directory keeps the repo root clean.
    """
    previous = os.getcwd()
    os.makedirs(path, exist_ok=True)
    # Packages of earlier syntheses: their zips are already staged as
    # cdk.out/asset.*.zip, so they only fill the disk.
    shutil.rmtree(os.path.join(path, "chalice.out"), ignore_errors=True)
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _default_region(region: str) -> Iterator[None]:
    """Set AWS_DEFAULT_REGION (if unset) for the duration of the block."""
    if os.environ.get("AWS_DEFAULT_REGION"):
        yield
        return
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        os.environ.pop("AWS_DEFAULT_REGION", None)


class EventRegistrationStack(cdk.Stack):
    """All AWS resources of one stage of the event-registration service.

    The construct id of the stack must be the Chalice stage name: the Chalice
    construct takes the stage from its scope.
    """

    def __init__(
        self,
        scope: Construct,
        settings: StageSettings,
        source_dir: Path = REPO_ROOT,
        **kwargs,
    ) -> None:
        super().__init__(
            scope,
            settings.stage,
            stack_name=settings.stack_name,
            description=f"{APP_NAME} ({settings.stage}): registration API, "
            "email delivery and data",
            **kwargs,
        )
        self.settings = settings
        self.api_function_name = f"{settings.stack_name}-{API_FUNCTION}"
        self.deliver_function_name = f"{settings.stack_name}-{DELIVER_FUNCTION}"
        self.jobs_function_name = f"{settings.stack_name}-{JOBS_FUNCTION}"
        data_removal = (
            cdk.RemovalPolicy.RETAIN if settings.protect_data else cdk.RemovalPolicy.DESTROY
        )

        self.table = self._table(data_removal)
        self.export_bucket = self._export_bucket()
        self.token_secret = self._token_secret(data_removal)
        self.dead_letter_queue = self._dead_letter_queue()
        self.feedback_function_name = f"{settings.stack_name}-{FEEDBACK_FUNCTION}"
        self.configuration_set = self._configuration_set()
        self.feedback_dead_letter_queue = self._queue("EmailEventsDLQ")
        self.api_log_group = self._log_group(API_FUNCTION, self.api_function_name)
        self.deliver_log_group = self._log_group(DELIVER_FUNCTION, self.deliver_function_name)
        self.jobs_log_group = self._log_group(JOBS_FUNCTION, self.jobs_function_name)
        self.feedback_log_group = self._log_group(FEEDBACK_FUNCTION, self.feedback_function_name)
        self.api_role = self._api_role()
        self.deliver_role = self._deliver_role()
        self.jobs_role = self._jobs_role()
        self.feedback_role = self._feedback_role()

        self.access_log_group = self._access_log_group()
        with _working_directory(cdk.Stage.of(self).outdir):
            self.chalice = PackagedChalice(
                self,
                "ChaliceApp",
                source_dir=str(source_dir),
                stage_config={
                    "manage_iam_role": False,
                    "iam_role_arn": self.api_role.role_arn,
                    "environment_variables": self._environment(),
                },
            )
        self._configure_functions()
        self.api_url = self._configure_api()
        self.web_acl = self._web_acl()
        self._wire_stream()
        self.email_events_rule = self._wire_ses_events()
        self.staff_policy = self._staff_policy()
        self.alarm_topic = self._alarms()
        self._outputs()

    # -- data ---------------------------------------------------------------

    def _table(self, removal: cdk.RemovalPolicy) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Table",
            # The name the app's config uses (staff tools find it by name).
            table_name=self.settings.table_name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            deletion_protection=self.settings.protect_data,
            removal_policy=removal,
        )
        table.add_global_secondary_index(
            index_name=REGISTRATION_INDEX,
            partition_key=dynamodb.Attribute(
                name="registration_id", type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        return table

    def _export_bucket(self) -> s3.Bucket:
        # Exports contain personal data: private, encrypted, TLS only, and
        # deleted automatically after ``export_expiry_days``.  Retained when
        # the stack is deleted (the lifecycle rule still empties it).
        return s3.Bucket(
            self,
            "ExportBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-exports",
                    expiration=cdk.Duration.days(self.settings.export_expiry_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _token_secret(self, removal: cdk.RemovalPolicy) -> secretsmanager.Secret:
        # Generated by Secrets Manager at deploy time: the value is never in
        # the repo, the template or the CDK output.
        return secretsmanager.Secret(
            self,
            "TokenSigningKey",
            description=f"{APP_NAME} {self.settings.stage}: key that signs "
            "registration links (used as key id k1)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True,
                password_length=64,
            ),
            removal_policy=removal,
        )

    def _dead_letter_queue(self) -> sqs.Queue:
        return self._queue("DeliverEmailsDLQ")

    def _queue(self, logical: str) -> sqs.Queue:
        """A dead-letter queue: SSE-SQS, TLS only, messages kept 14 days (SQS's longest)."""
        return sqs.Queue(
            self,
            logical,
            retention_period=cdk.Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )

    def _configuration_set(self) -> ses.CfnConfigurationSet:
        """The stage's SES configuration set, named in every send (``SES_CONFIGURATION_SET``).

        - reputation metrics on: SES publishes the set's bounce and complaint rates to
          CloudWatch, which the reputation alarms watch (:meth:`_alarms`);
        - suppression: SES's account-level suppression list applies to this set for
          bounces and complaints (an address that bounced permanently or complained
          anywhere in the account is not sent to), said here rather than left to the
          account's setting; the app suppresses per registration as well (README, "Emails");
        - its event destination (:meth:`_wire_ses_events`) publishes the events.
        """
        name = self.settings.stack_name
        configuration_set = ses.CfnConfigurationSet(
            self,
            "EmailConfigurationSet",
            name=name,
            reputation_options=ses.CfnConfigurationSet.ReputationOptionsProperty(
                reputation_metrics_enabled=True
            ),
            sending_options=ses.CfnConfigurationSet.SendingOptionsProperty(sending_enabled=True),
            suppression_options=ses.CfnConfigurationSet.SuppressionOptionsProperty(
                suppressed_reasons=["BOUNCE", "COMPLAINT"]
            ),
        )
        self.configuration_set_arn = self.format_arn(
            service="ses", resource="configuration-set", resource_name=name
        )
        return configuration_set

    def _log_group(self, logical: str, function_name: str) -> logs.LogGroup:
        return self._kept_log_group(f"{logical}Logs", f"/aws/lambda/{function_name}")

    def _kept_log_group(self, logical: str, name: str) -> logs.LogGroup:
        group = logs.LogGroup(
            self,
            logical,
            log_group_name=name,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # Logs can hold personal data: keep them only log_retention_days
        # (must be a value CloudWatch Logs accepts; cfn-lint checks it).
        group.node.default_child.retention_in_days = self.settings.log_retention_days
        return group

    def _access_log_group(self) -> logs.LogGroup:
        """The API stage's access log (``/aws/apigateway/<stack>-access``)."""
        return self._kept_log_group(
            "ApiAccessLogs", f"/aws/apigateway/{self.settings.stack_name}-access"
        )

    # -- least-privilege roles ---------------------------------------------

    @property
    def index_arn(self) -> str:
        """ARN of the ``by-registration`` index."""
        return f"{self.table.table_arn}/index/{REGISTRATION_INDEX}"

    def _sender_identity_arns(self) -> list[str]:
        """What a send is authorised on: the SES identity (the address or its domain) and,
        since every send names it, the stage's configuration set (SES checks both)."""
        return [
            self.format_arn(service="ses", resource="identity", resource_name=name)
            for name in (self.settings.sender_address, self.settings.sender_domain)
        ] + [self.configuration_set_arn]

    def _lambda_role(self, logical: str, statements: list[iam.PolicyStatement]) -> iam.Role:
        # Inline policy: it exists as soon as the role does, so the function
        # and the event source mapping never start without their permissions.
        return iam.Role(
            self,
            logical,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{APP_NAME} {self.settings.stage}: {logical}",
            inline_policies={"least-privilege": iam.PolicyDocument(statements=statements)},
        )

    # One statement of each kind a function's role may hold; the roles below pick theirs, in order.

    @staticmethod
    def _logs_statement(log_group: logs.LogGroup) -> iam.PolicyStatement:
        """Write to the function's own log group (made with its retention before the function)."""
        return iam.PolicyStatement(sid="Logs", actions=LOG_ACTIONS, resources=[log_group.log_group_arn])

    def _table_statement(self, actions: list[str]) -> iam.PolicyStatement:
        """``actions`` on the registrations table (its items only: the index has its own statement)."""
        return iam.PolicyStatement(sid="Table", actions=actions, resources=[self.table.table_arn])

    def _token_key_statement(self) -> iam.PolicyStatement:
        """Read the token signing key from its secret."""
        return iam.PolicyStatement(
            sid="TokenKey", actions=SECRET_ACTIONS, resources=[self.token_secret.secret_arn]
        )

    @staticmethod
    def _on_failure_statement(queue: sqs.Queue) -> iam.PolicyStatement:
        """Send to the function's dead-letter queue: Lambda's on-failure destination (of an
        asynchronous invocation or a stream's event source mapping) sends with the function's role."""
        return iam.PolicyStatement(
            sid="OnFailureDestination", actions=DLQ_ACTIONS, resources=[queue.queue_arn]
        )

    def _api_role(self) -> iam.Role:
        return self._lambda_role(
            "APIHandlerRole",
            [
                self._logs_statement(self.api_log_group),
                self._table_statement(API_TABLE_ACTIONS),
                iam.PolicyStatement(sid="Index", actions=INDEX_ACTIONS, resources=[self.index_arn]),
                self._token_key_statement(),
            ],
        )

    def _deliver_role(self) -> iam.Role:
        return self._lambda_role(
            "DeliverEmailsRole",
            [
                self._logs_statement(self.deliver_log_group),
                iam.PolicyStatement(
                    sid="Stream", actions=STREAM_ACTIONS, resources=[self.table.table_stream_arn]
                ),
                # ListStreams takes no resource ARN in IAM: "*" is the
                # narrowest AWS allows.  It reveals only stream ARNs.
                iam.PolicyStatement(
                    sid="ListStreams", actions=["dynamodb:ListStreams"], resources=["*"]
                ),
                self._table_statement(DELIVER_TABLE_ACTIONS),
                iam.PolicyStatement(
                    sid="SendFromSender",
                    actions=SES_ACTIONS,
                    resources=self._sender_identity_arns(),
                ),
                self._token_key_statement(),
                self._on_failure_statement(self.dead_letter_queue),
            ],
        )

    def _jobs_role(self) -> iam.Role:
        """RunDueJobs: reads the catalogue and waitlist buckets, marks notifications and done jobs."""
        return self._lambda_role(
            "RunDueJobsRole",
            [self._logs_statement(self.jobs_log_group), self._table_statement(JOBS_TABLE_ACTIONS)],
        )

    def _feedback_role(self) -> iam.Role:
        """RecordEmailEvents: read a message lookup item, update the registration, fail to its DLQ."""
        return self._lambda_role(
            "RecordEmailEventsRole",
            [
                self._logs_statement(self.feedback_log_group),
                self._table_statement(FEEDBACK_TABLE_ACTIONS),
                self._on_failure_statement(self.feedback_dead_letter_queue),
            ],
        )

    # -- the Chalice app ----------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """Environment variables of both functions (the app's contract)."""
        s = self.settings
        return {
            "STAGE": s.stage,
            "TABLE_NAME": self.table.table_name,
            "SENDER_EMAIL": s.sender_email,
            "RETENTION_DAYS": str(s.retention_days),
            "PUBLIC_BASE_URL": s.public_base_url,
            "ALLOWED_ORIGINS": ",".join(s.allowed_origins),
            "TOKEN_SECRET_ARN": self.token_secret.secret_arn,
            "EXPORT_BUCKET": self.export_bucket.bucket_name,
            "SES_CONFIGURATION_SET": self.configuration_set.ref,
        }

    def _configure_functions(self) -> None:
        s = self.settings
        for logical, name, role, log_group, memory, reserved in (
            (API_FUNCTION, self.api_function_name, self.api_role, self.api_log_group,
             s.api_memory_mb, s.api_reserved_concurrency),
            (DELIVER_FUNCTION, self.deliver_function_name, self.deliver_role,
             self.deliver_log_group, s.deliver_memory_mb, s.deliver_reserved_concurrency),
            (JOBS_FUNCTION, self.jobs_function_name, self.jobs_role, self.jobs_log_group,
             JOBS_MEMORY_MB, JOBS_RESERVED_CONCURRENCY),
            (FEEDBACK_FUNCTION, self.feedback_function_name, self.feedback_role,
             self.feedback_log_group, s.feedback_memory_mb, s.feedback_reserved_concurrency),
        ):
            function = self.chalice.get_resource(logical)
            function.add_property_override("FunctionName", name)
            function.add_property_override("Role", role.role_arn)
            # CPU comes with memory (a full vCPU at 1,769 MB): docs/deploy.md
            # gives the measurements behind the defaults.
            function.add_property_override("MemorySize", memory)
            if reserved is not None:
                # Guarantees the function this many concurrent executions and
                # caps it there, so a flood cannot take the account's whole
                # concurrency (nor the other function's).
                function.add_property_override("ReservedConcurrentExecutions", reserved)
            # Create the log group (with its retention) before the function
            # can write to it.
            function.node.add_dependency(log_group)
        api = self.chalice.get_resource(API_FUNCTION)
        for variable, value in API_AWS_CALLS.items():
            api.add_property_override(f"Environment.Variables.{variable}", value)
        self.chalice.get_resource(DELIVER_FUNCTION).add_property_override(
            "Handler", DELIVER_HANDLER
        )
        jobs = self.chalice.get_resource(JOBS_FUNCTION)
        jobs.add_property_override("Handler", JOBS_HANDLER)
        jobs.add_property_override("Timeout", JOBS_TIMEOUT_SECONDS)
        self.chalice.get_resource(FEEDBACK_FUNCTION).add_property_override(
            "Handler", FEEDBACK_HANDLER
        )

    def _configure_api(self) -> str:
        """Name and throttle the REST API; return its base URL (no slash)."""
        rest_api = self.chalice.get_resource(REST_API)
        rest_api.add_property_override("Name", self.settings.stack_name)
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": self.settings.throttle_rate_limit,
                    "ThrottlingBurstLimit": self.settings.throttle_burst_limit,
                }
            ],
        )
        self.api_stage_name = rest_api.stage_name
        self._access_logs(rest_api)
        self._gateway_responses(rest_api)
        api_url = cdk.Fn.join(
            "",
            [
                "https://",
                rest_api.ref,
                ".execute-api.",
                self.region,
                ".",
                self.url_suffix,
                "/",
                self.api_stage_name,
            ],
        )
        if not self.settings.public_base_url:
            # The API function cannot reference its own API (circular), so it
            # gets "" and uses the request's host; the stream function builds
            # links without a request and gets the API URL.
            self.chalice.add_environment_variable("PUBLIC_BASE_URL", api_url, DELIVER_FUNCTION)
        return api_url

    def _access_logs(self, rest_api: cdk.CfnResource) -> None:
        """JSON access logs of the stage into :meth:`_access_log_group`.

        API Gateway writes them with the account's CloudWatch role, one
        setting per account and region (``AWS::ApiGateway::Account``): the
        stack sets it to a role of its own that may only write logs.  That
        role is kept when the stack is deleted, since another stack's
        stage in the region may rely on the setting.
        """
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"{APP_NAME}: API Gateway writes access logs (account setting)",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        rest_api.add_property_override(
            "AccessLogSetting",
            {
                "DestinationArn": self.access_log_group.log_group_arn,
                "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            },
        )
        # The stage can only log once the account setting is in place.
        rest_api.node.add_dependency(account)

    #: Answers API Gateway gives itself (no Lambda involved), as problem+json like the app's own:
    #: (response type, status, problem code, title, detail).
    GATEWAY_PROBLEMS = (
        ("MISSING_AUTHENTICATION_TOKEN", "404", "not-found", "Not found",
         "There is no page or endpoint here, or it does not accept this method."),
        # The same with an Authorization header (a door link's bearer token sent to a wrong path): API
        # Gateway reads it as a broken AWS signature and would answer 403 with the header echoed back.
        ("INCOMPLETE_SIGNATURE", "404", "not-found", "Not found",
         "There is no page or endpoint here, or it does not accept this method."),
        ("THROTTLED", "429", "too-many-requests", "Too many requests",
         "Too many requests right now; try again in a few seconds."),
        # A request AWS WAF's common rule set blocked (the rate rule answers 429 itself).
        ("WAF_FILTERED", "403", "forbidden", "Request refused",
         "The request looks like an attack and was refused. If you were registering, "
         "remove unusual markup from your answers and try again."),
        ("DEFAULT_4XX", None, "bad-request", "Request refused", ""),
        ("DEFAULT_5XX", None, "internal-error", "Internal error", ""),
    )

    def _gateway_responses(self, rest_api: cdk.CfnResource) -> None:
        """problem+json (RFC 9457) for the answers API Gateway gives without the app.

        An unknown path or method would otherwise get ``403 Missing Authentication
        Token`` and throttling a bare 429. With exactly one allowed origin the
        answers carry its CORS header, so a form on that site can read them;
        API Gateway cannot choose among several origins here.
        """
        headers = {"gatewayresponse.header.Content-Type": "'application/problem+json'",
                   # as every answer of the app (README, "HTTP API": caching and headers)
                   "gatewayresponse.header.Cache-Control": "'no-store'",
                   "gatewayresponse.header.X-Content-Type-Options": "'nosniff'"}
        if len(self.settings.allowed_origins) == 1:
            headers["gatewayresponse.header.Access-Control-Allow-Origin"] = f"'{self.settings.allowed_origins[0]}'"
            headers["gatewayresponse.header.Vary"] = "'Origin'"
        for response_type, status, code, title, detail in self.GATEWAY_PROBLEMS:
            if status:
                body = (f'{{"type": "/problems/{code}", "title": "{title}", "status": {status}, '
                        f'"detail": "{detail}"}}')
            else:  # API Gateway's own status: leave it to the HTTP status line; its message as the detail
                body = f'{{"type": "/problems/{code}", "title": "{title}", "detail": $context.error.messageString}}'
            apigateway.CfnGatewayResponse(
                self,
                f"GatewayResponse{response_type.title().replace('_', '')}",
                rest_api_id=rest_api.ref,
                response_type=response_type,
                status_code=status,
                response_parameters=headers,
                response_templates={"application/json": body},
            )

    def _web_acl(self) -> wafv2.CfnWebACL:
        """AWS WAF in front of the API stage: a per-client limit and the common rule set.

        - ``PostsPerClientIp``: one client IP may make ``waf_rate_limit`` POST
          requests (registrations, cancellations) per ``waf_rate_window_seconds``;
          past that it gets 429 problem JSON (a WAF custom response: WAF sets
          ``Content-Type: application/json``, it cannot send
          ``application/problem+json``) with ``Retry-After``, until its rate
          falls under the limit.  Reading pages is left to the stage throttle.
        - ``DoorPostsPerClientIp``: the door page's posts (:data:`DOOR_POST_PATH`)
          count apart, up to :data:`DOOR_POSTS_PER_WINDOW` per window, so a door on
          venue Wi-Fi is not stopped after 100 scans.
        - ``AWSCommonRules``: AWS's managed common rule set, blocking; its
          blocks are answered by the ``WAF_FILTERED`` gateway response (403
          problem+json).  ``SizeRestrictions_BODY`` only counts (see
          :data:`COUNTED_COMMON_RULES`).

        Requests past the WAF still meet the stage throttle
        (``throttle_rate_limit``), sized for a whole launch.
        """
        s = self.settings

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"{s.stack_name}-{metric}",
                sampled_requests_enabled=True,
            )

        minutes = s.waf_rate_window_seconds // 60
        too_many = {
            "type": "/problems/too-many-requests",
            "title": "Too many requests",
            "status": 429,
            "detail": f"More than {s.waf_rate_limit} posts from your network within {minutes} "
            f"minute{'s' if minutes != 1 else ''}; try again in a few minutes.",
        }
        headers = [wafv2.CfnWebACL.CustomHTTPHeaderProperty(
            name="Retry-After", value=str(s.waf_rate_window_seconds))]
        if len(s.allowed_origins) == 1:
            # Like the gateway responses: the one allowed site's form can read the answer.
            headers += [
                wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                    name="Access-Control-Allow-Origin", value=s.allowed_origins[0]),
                wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Vary", value="Origin"),
            ]
        posts = wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(method={}),
                positional_constraint="EXACTLY",
                search_string="POST",
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                ],
            )
        )
        door_path = wafv2.CfnWebACL.StatementProperty(
            regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                regex_string=DOOR_POST_PATH,
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                ],
            )
        )

        def posts_rule(name: str, priority: int, limit: int, scope: wafv2.CfnWebACL.StatementProperty,
                       metric: str, body_key: str) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=429,
                            custom_response_body_key=body_key,
                            response_headers=headers,
                        )
                    )
                ),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=limit,
                        aggregate_key_type="IP",
                        evaluation_window_sec=s.waf_rate_window_seconds,
                        scope_down_statement=scope,
                    )
                ),
                visibility_config=visibility(metric),
            )

        # Registrations and cancellations: every POST but the door page's.
        rate_rule = posts_rule(
            "PostsPerClientIp", 0, s.waf_rate_limit,
            wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=[
                posts,
                wafv2.CfnWebACL.StatementProperty(
                    not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=door_path)),
            ])),
            "posts-per-client-ip", "too-many-requests",
        )
        door_rule = posts_rule(
            "DoorPostsPerClientIp", 1, DOOR_POSTS_PER_WINDOW,
            wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[posts, door_path])),
            "door-posts-per-client-ip", "too-many-door-posts",
        )
        common_rules = wafv2.CfnWebACL.RuleProperty(
            name="AWSCommonRules",
            priority=2,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS",
                    name=COMMON_RULE_SET,
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                        )
                        for rule in COUNTED_COMMON_RULES
                    ],
                )
            ),
            visibility_config=visibility("common-rules"),
        )
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{s.stack_name}-api",
            description=f"{APP_NAME} {s.stage}: per-client POST limit and AWS common rules",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            custom_response_bodies={
                "too-many-requests": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(too_many)
                ),
                "too-many-door-posts": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps({
                        **too_many,
                        "detail": f"More than {DOOR_POSTS_PER_WINDOW} check-ins and searches from your network "
                        f"within {minutes} minute{'s' if minutes != 1 else ''}; try again in a minute.",
                    })
                ),
            },
            rules=[rate_rule, door_rule, common_rules],
            visibility_config=visibility("api"),
        )
        rest_api = self.chalice.get_resource(REST_API)
        # SAM names the stage it generates "<api>.Stage"; referring to it also
        # makes the association wait for the stage.
        stage_arn = cdk.Fn.join(
            "",
            [
                "arn:", self.partition, ":apigateway:", self.region, "::/restapis/",
                rest_api.ref, "/stages/", cdk.Fn.ref(f"{REST_API}.Stage"),
            ],
        )
        association = wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=stage_arn, web_acl_arn=acl.attr_arn
        )
        cdk.Validations.of(association).acknowledge(
            cdk.Acknowledgment(
                id="CloudFormation-Validate::F1020",
                reason="RestAPI.Stage is the stage the SAM transform generates for RestAPI",
            )
        )
        return acl

    def _wire_stream(self) -> None:
        s = self.settings
        self.stream_mapping = lambda_.CfnEventSourceMapping(
            self,
            "DeliverEmailsStream",
            function_name=self.chalice.get_function(DELIVER_FUNCTION).function_name,
            event_source_arn=self.table.table_stream_arn,
            starting_position="TRIM_HORIZON",
            batch_size=s.stream_batch_size,
            maximum_batching_window_in_seconds=1,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=s.stream_max_retries,
            maximum_record_age_in_seconds=s.stream_max_record_age_seconds,
            function_response_types=["ReportBatchItemFailures"],
            # Only records that ask for an email (README, "Emails"): not the counters, guards,
            # waitlist buckets, nor the function's own email-state updates.
            filter_criteria=lambda_.CfnEventSourceMapping.FilterCriteriaProperty(
                filters=[lambda_.CfnEventSourceMapping.FilterProperty(
                    pattern=json.dumps(delivery_filter_pattern(), separators=(",", ":"))
                )]
            ),
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(
                    destination=self.dead_letter_queue.queue_arn
                )
            ),
        )

    def _wire_ses_events(self) -> events.CfnRule:
        """SES's events of the stage's emails reach RecordEmailEvents, through EventBridge.

        The configuration set's event destination publishes delivery, bounce,
        complaint, reject and delay events to the account's default event bus
        (the only bus SES publishes to); a rule there matches SES's events of
        this stage's configuration set (its ``ses:configuration-set`` tag, so
        stages sharing an account do not see each other's) and invokes the
        function asynchronously, one event per invocation.  Failures: EventBridge
        retries an invocation it could not make (:data:`EVENTBRIDGE_RETRY_ATTEMPTS`,
        for up to a day) and then puts the event in the dead-letter queue; an
        invocation that raised is retried by Lambda (:data:`FEEDBACK_RETRY_ATTEMPTS`)
        and then sent to the same queue (the function's on-failure destination).
        EventBridge rather than SNS: no topic holding recipients' addresses
        without a customer-managed KMS key (which SES would need to publish to an
        encrypted topic), and one resource fewer between SES and the function;
        the recording is one small conditional write per event, which needs no batching.
        """
        default_bus = self.format_arn(service="events", resource="event-bus", resource_name="default")
        ses.CfnConfigurationSetEventDestination(
            self,
            "EmailEventDestination",
            configuration_set_name=self.configuration_set.ref,
            event_destination=ses.CfnConfigurationSetEventDestination.EventDestinationProperty(
                name="registration-events",
                enabled=True,
                matching_event_types=["delivery", "bounce", "complaint", "reject", "deliveryDelay"],
                event_bridge_destination=ses.CfnConfigurationSetEventDestination.EventBridgeDestinationProperty(
                    event_bus_arn=default_bus
                ),
            ),
        )
        function = self.chalice.get_function(FEEDBACK_FUNCTION)
        queue = self.feedback_dead_letter_queue
        rule = events.CfnRule(
            self,
            "EmailEventsRule",
            description=f"{APP_NAME} {self.settings.stage}: SES events of the stage's emails to RecordEmailEvents",
            event_pattern={
                "source": ["aws.ses"],
                "detail-type": list(SES_EVENT_TYPES.values()),
                "detail": {"mail": {"tags": {"ses:configuration-set": [self.configuration_set.ref]}}},
            },
            state="ENABLED",
            targets=[events.CfnRule.TargetProperty(
                id=FEEDBACK_FUNCTION,
                arn=function.function_arn,
                retry_policy=events.CfnRule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=EVENTBRIDGE_MAX_EVENT_AGE_SECONDS,
                    maximum_retry_attempts=EVENTBRIDGE_RETRY_ATTEMPTS,
                ),
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=queue.queue_arn),
            )],
        )
        lambda_.CfnPermission(
            self,
            "EmailEventsInvokePermission",
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="events.amazonaws.com",
            source_arn=rule.attr_arn,
        )
        queue.add_to_resource_policy(iam.PolicyStatement(
            sid="EventBridgeDeadLetters",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=DLQ_ACTIONS,
            resources=[queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
        ))
        lambda_.CfnEventInvokeConfig(
            self,
            "RecordEmailEventsRetries",
            function_name=function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=FEEDBACK_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=FEEDBACK_MAX_EVENT_AGE_SECONDS,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=queue.queue_arn)
            ),
        )
        return rule

    # -- staff --------------------------------------------------------------

    def _staff_policy(self) -> iam.ManagedPolicy:
        """Managed policy for the people who run the staff tools."""
        table_and_index = [self.table.table_arn, self.index_arn]
        return iam.ManagedPolicy(
            self,
            "StaffPolicy",
            managed_policy_name=f"{self.settings.stack_name}-staff",
            description=f"Attach to the IAM users/groups of {APP_NAME} "
            f"{self.settings.stage} staff (staff tools and exports).",
            statements=[
                iam.PolicyStatement(
                    sid="Registrations",
                    actions=[
                        "dynamodb:BatchGetItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                    ],
                    resources=table_and_index,
                ),
                iam.PolicyStatement(
                    sid="Export",
                    actions=[
                        "dynamodb:DescribeContinuousBackups",
                        "dynamodb:DescribeTable",
                        "dynamodb:ExportTableToPointInTime",
                        "dynamodb:ListExports",
                    ],
                    resources=[self.table.table_arn],
                ),
                # The staff tools read the export bucket's name from this stack's outputs.
                iam.PolicyStatement(
                    sid="StackOutputs",
                    actions=["cloudformation:DescribeStacks"],
                    resources=[self.stack_id],
                ),
                iam.PolicyStatement(
                    sid="DescribeExport",
                    actions=["dynamodb:DescribeExport"],
                    resources=[f"{self.table.table_arn}/export/*"],
                ),
                iam.PolicyStatement(
                    sid="ExportBucket",
                    actions=["s3:ListBucket"],
                    resources=[self.export_bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="ExportObjects",
                    actions=[
                        "s3:AbortMultipartUpload",
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:PutObjectAcl",
                    ],
                    resources=[self.export_bucket.arn_for_objects("*")],
                ),
                # python -m staff checkin-link signs door links with the token key
                # (README, "Check-in at the door"); staff can change registrations
                # anyway, so reading the key gives them nothing more.
                iam.PolicyStatement(
                    sid="SignDoorLinks",
                    actions=SECRET_ACTIONS,
                    resources=[self.token_secret.secret_arn],
                ),
                # The README tells staff to delete export files by hand
                # (erasure, "Staff tools"); only those the staff tools write.
                iam.PolicyStatement(
                    sid="DeleteExportFiles",
                    actions=["s3:DeleteObject"],
                    resources=[self.export_bucket.arn_for_objects("exports/*")],
                ),
            ],
        )

    # -- monitoring ---------------------------------------------------------

    def _alarms(self) -> sns.Topic:
        topic = sns.Topic(self, "AlarmTopic", display_name=f"{self.settings.stack_name} alarms")
        if self.settings.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.settings.alarm_email))
        action = cw_actions.SnsAction(topic)
        five_minutes = cdk.Duration.minutes(5)

        def alarm(logical: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1) -> None:
            created = cloudwatch.Alarm(
                self,
                logical,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)

        alarm(
            "Api5xxAlarm",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map={"ApiName": self.settings.stack_name, "Stage": self.api_stage_name},
                statistic="Sum",
                period=five_minutes,
            ),
            "The registration API answered with a 5xx error.",
        )
        for logical, name in (
            (API_FUNCTION, self.api_function_name),
            (DELIVER_FUNCTION, self.deliver_function_name),
            (JOBS_FUNCTION, self.jobs_function_name),
            (FEEDBACK_FUNCTION, self.feedback_function_name),
        ):
            alarm(
                f"{logical}ErrorsAlarm",
                cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="Errors",
                    dimensions_map={"FunctionName": name},
                    statistic="Sum",
                    period=five_minutes,
                ),
                f"The {logical} function raised an error.",
            )
        alarm(
            "DeadLetterQueueAlarm",
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=five_minutes
            ),
            "Email batches failed after all retries: see the DeliverEmails dead-letter queue.",
        )
        alarm(
            "EmailEventsDeadLetterQueueAlarm",
            self.feedback_dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=five_minutes
            ),
            "SES events could not be recorded after all retries: see the RecordEmailEvents dead-letter queue.",
        )
        # The stage's reputation (the configuration set's metrics, published because the set
        # has reputation metrics on): AWS reviews an account at about 5% bounces and 0.1%
        # complaints; these go off before (stages.json, bounce_rate_alarm, complaint_rate_alarm).
        for logical, metric_name, threshold, what in (
            ("SesBounceRateAlarm", "Reputation.BounceRate", self.settings.bounce_rate_alarm, "bounce"),
            ("SesComplaintRateAlarm", "Reputation.ComplaintRate", self.settings.complaint_rate_alarm, "complaint"),
        ):
            alarm(
                logical,
                cloudwatch.Metric(
                    namespace="AWS/SES",
                    metric_name=metric_name,
                    dimensions_map={"ses:configuration-set": self.settings.stack_name},
                    statistic="Maximum",
                    period=cdk.Duration.hours(1),
                ),
                f"The {what} rate of this stage's emails reached {threshold:.2%}; AWS reviews an "
                "account at about 5% bounces or 0.1% complaints. See registrations list for the "
                "addresses (README, Emails).",
                threshold=threshold,
            )
        return topic

    def _outputs(self) -> None:
        form_url = cdk.Fn.join(
            "", [self.api_url, f"/events/{self.settings.form_event_id}/register"]
        )
        for name, value, description in (
            ("ApiUrl", self.api_url, "Base URL of the registration API"),
            ("FormUrl", form_url, "Registration form of the first event"),
            ("TableName", self.table.table_name, "DynamoDB table"),
            ("ExportBucketName", self.export_bucket.bucket_name, "S3 bucket for table exports"),
            ("TokenSecretArn", self.token_secret.secret_arn, "Token signing key (Secrets Manager)"),
            ("DeadLetterQueueUrl", self.dead_letter_queue.queue_url, "Failed email batches"),
            ("EmailEventsDeadLetterQueueUrl", self.feedback_dead_letter_queue.queue_url,
             "SES events that could not be recorded"),
            ("ConfigurationSetName", self.configuration_set.ref, "SES configuration set of every send"),
            ("StaffPolicyArn", self.staff_policy.managed_policy_arn, "Attach to staff users"),
            ("AlarmTopicArn", self.alarm_topic.topic_arn, "Subscribe to receive alarms"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)


def build_app(
    stage: str | None = None, outdir: str | None = None, environ=None
) -> tuple[cdk.App, EventRegistrationStack]:
    """Create the CDK app with the stack of one stage (not yet synthesised).

    The stage is ``stage``, else the CDK context value ``stage``
    (``cdk synth -c stage=prod``), else the ``STAGE`` environment variable.
    """
    from stage_settings import load_settings

    environ = os.environ if environ is None else environ
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    stage = stage or app.node.try_get_context("stage") or environ.get("STAGE")
    if not stage:
        raise SystemExit("No stage: pass -c stage=NAME or set STAGE.")
    settings = load_settings(stage, environ)
    # ``chalice package`` needs a region even though it calls no AWS API.
    with _default_region(settings.region):
        stack = EventRegistrationStack(
            app,
            settings,
            env=cdk.Environment(
                account=environ.get("CDK_DEFAULT_ACCOUNT"), region=settings.region
            ),
        )
    return app, stack
