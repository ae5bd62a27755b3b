"""Helpers for the staff tool tests: run the CLI in-process, make events and registrations quickly."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import CASES_FILE, SEED_EVENT_ID, partos_registration

__all__ = ["CASES_FILE", "SEED_EVENT_ID", "partos_registration"]


def staff_prefix(*options: str) -> str:
    """How the staff tools' hints name themselves here: this interpreter (relative to the current
    folder when inside it, e.g. ``.venv/bin/python``), ``-m staff`` and ``options``."""
    interpreter = os.path.abspath(sys.executable)
    if Path(interpreter).is_relative_to(os.getcwd()):
        interpreter = str(Path(interpreter).relative_to(os.getcwd()))
    return " ".join([interpreter, "-m", "staff", *options])


def run(*args: str, input: str | None = None) -> Result:
    """``python -m staff --stage local ARGS`` in this process (moto from the ``aws`` fixture)."""
    from staff.cli import cli

    return CliRunner().invoke(cli, ["--stage", "local", *args], input=input, catch_exceptions=False)


def register(event_id: str = SEED_EVENT_ID, **fields: Any):
    """Register through the service's own code path (``registrations.register``)."""
    from chalicelib import registrations

    return registrations.register(
        event_id, partos_registration(**fields) if event_id == SEED_EVENT_ID else fields, "nl"
    )


CASES_EVENT = {
    "id": "staff-cases-event",
    "languages": ["nl", "en"],
    "title": {"nl": "Testevenement", "en": "Test event"},
    "description": {"nl": "Voor de exporttests.", "en": "For the export tests."},
    "timezone": "Europe/Amsterdam",
    "starts_at": "2023-06-05T14:00:00",
    "ends_at": "2023-06-05T17:00:00",
    "location": {"name": "Partos", "address": "Ellermanstraat 18b", "city": "Amsterdam", "country": "NL"},
    "organiser": {"name": "Partos", "email": "events@partos.example.org"},
    "capacity": 3,
    "waitlist": True,
    "privacy_url": "https://www.partos.nl/privacy/",
    "questions": [
        {"id": "phone", "type": "phone", "label": {"nl": "Telefoon", "en": "Phone"}},
        {"id": "note", "type": "text", "label": {"nl": "Opmerking", "en": "Note"}},
        {"id": "diet", "type": "multichoice", "label": {"nl": "Dieet", "en": "Diet"},
         "options": [{"id": "vegetarian", "label": {"nl": "Vegetarisch", "en": "Vegetarian"}},
                     {"id": "halal", "label": {"nl": "Halal", "en": "Halal"}}]},
        {"id": "member", "type": "boolean", "label": {"nl": "Lid", "en": "Member"}},
    ],
}


@pytest.fixture
def cases_event(aws: dict[str, str]):
    """A small event (capacity 3, waitlist) with phone, text, multichoice and boolean questions."""
    from chalicelib import store
    from chalicelib.events import parse_event

    event = parse_event(CASES_EVENT)
    store.put_event(event)
    return event


def person(name: str, email: str, **answers: Any) -> dict[str, Any]:
    """A registration body for the cases event."""
    return {"name": name, "email": email, "language": "nl", "consent": True, **answers}


def table_items() -> list[dict[str, Any]]:
    """Every item of the table in DynamoDB typed JSON (test helper; the tools never Scan registrations)."""
    from chalicelib import aws
    from chalicelib.settings import get_settings

    items: list[dict[str, Any]] = []
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=get_settings().table_name):
        items.extend(page["Items"])
    return items


def write_aws_export(root: Path, raw_items: Iterable[dict[str, Any]], *, files: int = 2, prefix: str = "exports/t",
                     export_id: str = "01700000000000-abcdef12", export_time: str = "2023-06-01T10:00:00.000Z") -> Path:
    """Write an export in AWS's layout under ``root``; returns the export's folder.

    ``root/<prefix>/AWSDynamoDB/<export_id>/`` gets ``manifest-summary.json``,
    ``manifest-files.json`` (JSON lines with ``dataFileS3Key`` relative to the
    bucket) and ``files`` gzip data files ``data/<n>.json.gz`` with one
    ``{"Item": ...}`` per line, items dealt round-robin. Streams: items may be a generator.
    """
    base = f"{prefix}/AWSDynamoDB/{export_id}"
    folder = root / base
    (folder / "data").mkdir(parents=True, exist_ok=True)
    names = [f"data/part{n:02d}-{export_id[-8:]}.json.gz" for n in range(files)]
    counts = [0] * files
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(gzip.open(folder / name, "wt", encoding="utf-8")) for name in names]
        for index, item in enumerate(raw_items):
            handles[index % files].write(json.dumps({"Item": item}, ensure_ascii=False) + "\n")
            counts[index % files] += 1
    with open(folder / "manifest-files.json", "w", encoding="utf-8") as out:
        for name, count in zip(names, counts, strict=True):
            out.write(
                json.dumps({"itemCount": count, "md5Checksum": "x", "etag": "y", "dataFileS3Key": f"{base}/{name}"})
                + "\n"
            )
    summary = {
        "version": "2020-06-30", "exportArn": f"arn:aws:dynamodb:eu-west-1:123456789012:table/t/export/{export_id}",
        "startTime": export_time, "endTime": export_time, "exportTime": export_time,
        "tableArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/t", "tableId": "x", "s3Bucket": "b",
        "s3Prefix": prefix, "s3SseAlgorithm": "AES256", "manifestFilesS3Key": f"{base}/manifest-files.json",
        "billedSizeBytes": 0, "itemCount": sum(counts), "outputFormat": "DYNAMODB_JSON", "exportType": "FULL_EXPORT",
    }
    (folder / "manifest-summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "_started").write_text("", encoding="utf-8")
    return folder
