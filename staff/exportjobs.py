"""DynamoDB exports of the table to S3: the bucket they go to, starting one, waiting for it, listing them.

An export (``ExportTableToPointInTime``, format ``DYNAMODB_JSON``) is a consistent copy of the
whole table as of its start, written under ``s3://BUCKET/PREFIX/AWSDynamoDB/<id>/`` without using
the table's read capacity (README, "Staff tools"). It needs point-in-time recovery, which the
deploy stack keeps on; the staff policy may not turn it on. On the ``local`` stage (``make run``'s
AWS stand-in) the bucket is created when missing and recovery turned on, as the stack has them.

Reading an export's files is :mod:`staff.exportfiles` and :mod:`staff.exporting`; nothing here prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.settings import LOCAL_STAGE, get_settings
from staff.stack import stage_output

#: The local stage's bucket (``make run`` creates it; README, "Staff tools").
LOCAL_EXPORT_BUCKET = "registrations-local-exports"
#: Seconds between DescribeExport calls while waiting, unless the caller says: the stand-in is quick.
POLL_SECONDS = {LOCAL_STAGE: 0.5}
DEFAULT_POLL_SECONDS = 10.0


class NoExportBucket(ValueError):
    """Neither ``--bucket``, ``EXPORT_BUCKET`` nor the stage's stack names a bucket (a usage error)."""


class PointInTimeRecoveryOff(Exception):
    """The table's point-in-time recovery is off (not on the local stage): no export is possible.

    ``table`` is the table's name.
    """

    def __init__(self, table: str):
        super().__init__(table)
        self.table = table


def export_bucket(given: str | None) -> str:
    """The bucket exports go to: ``given`` (``--bucket``), else ``EXPORT_BUCKET`` (environment or stage config),
    else on the local stage :data:`LOCAL_EXPORT_BUCKET`, else the stage's stack output ``ExportBucketName``.

    Raises :class:`NoExportBucket`.
    """
    chosen = given or os.environ.get("EXPORT_BUCKET")
    if chosen:
        return chosen
    if get_settings().stage == LOCAL_STAGE:
        return LOCAL_EXPORT_BUCKET
    from_stack = stage_output("ExportBucketName")
    if from_stack:
        return from_stack
    raise NoExportBucket("no export bucket: set EXPORT_BUCKET, give it in the stage's config, or use --bucket")


@dataclass(frozen=True)
class StartedExport:
    """An export that :func:`start_export` started: its ARN, the table, where it writes, and whether
    point-in-time recovery was turned on for it."""

    arn: str
    table: str
    bucket: str
    prefix: str
    #: True on the local stage when point-in-time recovery was off and this turned it on.
    recovery_turned_on: bool = False


def _table_arn(dynamodb: Any, table: str) -> str:
    return str(dynamodb.describe_table(TableName=table)["Table"]["TableArn"])


def _recovery_on(dynamodb: Any, table: str) -> bool:
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    status = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    return bool(status == "ENABLED")


def _local_bucket(bucket: str, region: str) -> None:
    """Create ``bucket`` on the local stand-in if it is missing."""
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def start_export(bucket: str | None, prefix: str | None,
                 recovery_turned_on: Callable[[str], None] | None = None) -> StartedExport:
    """Start an export of the settings' table into ``bucket`` (see :func:`export_bucket`) under ``prefix``
    (default ``exports/<table>``; slashes at either end dropped).

    On the local stage, ``recovery_turned_on(table)`` is called as soon as point-in-time recovery
    has been turned on (before the export is asked for, which may still fail).

    Raises :class:`NoExportBucket`, :class:`PointInTimeRecoveryOff` (not the local stage) and botocore errors.
    """
    settings = get_settings()
    table, local = settings.table_name, settings.stage == LOCAL_STAGE
    dynamodb = aws.client("dynamodb")
    bucket = export_bucket(bucket)
    prefix = (prefix or f"exports/{table}").strip("/")
    if local:
        _local_bucket(bucket, settings.aws_region)
    turned_on = False
    if not _recovery_on(dynamodb, table):
        if not local:
            raise PointInTimeRecoveryOff(table)
        # The local stand-in's table is made without PITR; the stack's always has it.
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        turned_on = True
        if recovery_turned_on is not None:
            recovery_turned_on(table)
    answer = dynamodb.export_table_to_point_in_time(
        TableArn=_table_arn(dynamodb, table), S3Bucket=bucket, S3Prefix=prefix, ExportFormat="DYNAMODB_JSON"
    )["ExportDescription"]
    return StartedExport(str(answer["ExportArn"]), table, bucket, prefix, turned_on)


@dataclass(frozen=True)
class ExportState:
    """An export as DescribeExport last described it.

    ``status`` is ``IN_PROGRESS``, ``COMPLETED`` or ``FAILED``; ``item_count`` is ``None`` until known;
    ``failure`` is AWS's ``FailureMessage`` or ``FailureCode`` (empty when none).
    """

    status: str
    item_count: int | None
    failure: str


def wait_for_export(arn: str, timeout: float, interval: float | None = None,
                    on_poll: Callable[[str, float], None] | None = None) -> ExportState:
    """Poll DescribeExport every ``interval`` seconds (default :data:`POLL_SECONDS` of the stage, else
    :data:`DEFAULT_POLL_SECONDS`) until the export leaves ``IN_PROGRESS`` or ``timeout`` seconds have passed.

    ``on_poll(status, elapsed_seconds)`` is called after each DescribeExport (a spinner). Returns the last
    :class:`ExportState` (still ``IN_PROGRESS`` after a timeout). Raises botocore errors.
    """
    if interval is None:
        interval = POLL_SECONDS.get(get_settings().stage, DEFAULT_POLL_SECONDS)
    dynamodb = aws.client("dynamodb")
    started = time.monotonic()
    while True:
        description = dynamodb.describe_export(ExportArn=arn)["ExportDescription"]
        status = str(description.get("ExportStatus"))
        elapsed = time.monotonic() - started
        if on_poll is not None:
            on_poll(status, elapsed)
        if status != "IN_PROGRESS" or elapsed > timeout:
            failure = description.get("FailureMessage") or description.get("FailureCode") or ""
            return ExportState(status, description.get("ItemCount"), failure)
        time.sleep(interval)


@dataclass(frozen=True)
class ExportSummary:
    """One export of the table, for ``exports list``.

    ``export_id`` is the last part of its ARN; ``started`` (aware, as AWS gives it) is ``None`` when
    AWS gives neither a start nor an export time; ``location`` is ``s3://bucket/prefix``.
    """

    export_id: str
    status: str | None
    started: datetime | None
    item_count: int | None
    location: str


def list_exports() -> list[ExportSummary]:
    """Every export of the settings' table (ListExports, every page, then DescribeExport of each).

    Raises botocore errors (``ResourceNotFoundException`` for a missing table).
    """
    dynamodb = aws.client("dynamodb")
    kwargs: dict[str, Any] = {"TableArn": _table_arn(dynamodb, get_settings().table_name)}
    found: list[ExportSummary] = []
    while True:
        page = dynamodb.list_exports(**kwargs)
        for summary in page.get("ExportSummaries", []):
            detail = dynamodb.describe_export(ExportArn=summary["ExportArn"])["ExportDescription"]
            found.append(ExportSummary(
                export_id=summary["ExportArn"].rsplit("/", 1)[-1],
                status=summary.get("ExportStatus"),
                started=detail.get("StartTime") or detail.get("ExportTime"),
                item_count=detail.get("ItemCount"),
                location=f"s3://{detail.get('S3Bucket')}/{detail.get('S3Prefix') or ''}",
            ))
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]
