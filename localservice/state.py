"""``make run``'s data kept across restarts, in ``.local-state/`` (README "Quick start").

moto keeps everything in memory, so without this a restart would forget every
registration and every link in the emails of ``outbox/`` would answer 404.
:class:`LocalState` saves, and loads at the next start:

- ``state.json``: the table's items (DynamoDB JSON, read from moto in one
  instant while no DynamoDB request runs), the stream records the poller has
  not delivered yet (so an email still to send is sent after the restart, and
  one already sent is not sent again), and the pinned clock's reading (so the
  clock of ``APP_CLOCK`` runs on from where it stopped instead of going back);
- ``s3/<bucket>/<key>``: every object of every bucket (the staff tools' table
  exports), one file per object.

It saves on stop (Ctrl-C or SIGTERM) and, while running, within
:data:`SAVE_AFTER_SECONDS` of a change to the table (any new stream record) or
of a new or deleted S3 object; a ``kill -9`` loses at most the changes of those
last seconds, and an email sent in them may be sent again after the restart.
Reading the table holds off DynamoDB requests (about 0.1 s per thousand items),
so for a big table the interval grows to keep that under a tenth of the time
(:data:`MAX_SAVE_SHARE`).
Each save replaces ``state.json`` atomically (write to a temporary file, then
rename), so a crash mid-save leaves the previous save whole.

One running service owns the folder (an exclusive ``flock`` on ``.lock``): a
second ``make run`` in the same checkout is refused with a message, instead of
two services overwriting each other's saves.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from chalicelib import aws

#: Version of the ``state.json`` layout; a file of another version is refused, never guessed at.
FORMAT = 1
STATE_FILE = "state.json"
S3_FOLDER = "s3"
PREVIOUS_FOLDER = "previous"
LOCK_FILE = ".lock"

#: A change is saved at most this many seconds after the poller sees it.
SAVE_AFTER_SECONDS = 2.0
#: At most this share of the time is spent holding off DynamoDB requests to read the table.
MAX_SAVE_SHARE = 0.1
#: How often the S3 buckets are listed to find new or deleted objects.
S3_CHECK_SECONDS = 5.0

#: BatchWriteItem takes at most 25 items per call (DynamoDB limit).
_BATCH = 25


class StateError(Exception):
    """The saved state cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Loaded:
    """What a start loaded from the saved state.

    ``saved_at`` is the UTC time of the save (ISO 8601); ``clock_origin`` the
    ``APP_CLOCK`` the saving service was started with and ``clock_at`` its
    pinned clock's reading at the save (both ``None`` on the real clock).
    """

    registrations: int
    events: int
    export_files: int
    emails_pending: int
    saved_at: str
    clock_origin: str | None
    clock_at: str | None


def _to_json(value: Any) -> Any:
    """``json.dumps`` default: bytes (DynamoDB binary) as base64, datetimes as epoch seconds."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot save a {type(value).__name__}")


def _attribute_from_json(value: dict[str, Any]) -> dict[str, Any]:
    """One DynamoDB JSON attribute value as boto3's low-level client takes it (binary as bytes)."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _attribute_from_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_attribute_from_json(v) for v in inner]}
    return {kind: inner}


def _item_from_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _attribute_from_json(value) for name, value in item.items()}


def _record_from_json(record: dict[str, Any]) -> dict[str, Any]:
    """A saved stream record in the shape the poller hands to ``DeliverEmails``."""
    dynamodb = dict(record.get("dynamodb") or {})
    for part in ("Keys", "NewImage", "OldImage"):
        if part in dynamodb:
            dynamodb[part] = _item_from_json(dynamodb[part])
    return {**record, "dynamodb": dynamodb}


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if isinstance(value, dict) else None


def _email_pending(item: dict[str, Any]) -> bool:
    """Whether a registration item (DynamoDB JSON) has an email not yet sent (``pending`` or ``sending``)."""
    notifications = (item.get("notifications") or {}).get("M") or {}
    return any(((entry.get("M") or {}).get("state") or {}).get("S") in ("pending", "sending")
               for entry in notifications.values())


def _safe_key(key: str) -> PurePosixPath | None:
    """An S3 key as a relative path, or ``None`` if it cannot be one file under the bucket's folder."""
    path = PurePosixPath(key)
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    return path


class LocalState:
    """The saved state of the local service in ``directory`` (default ``.local-state/``).

    ``table_name`` is the table to read and fill; ``region`` the stand-in's region.
    Use: :meth:`lock`, then :meth:`set_aside` (``FRESH=1``) or :meth:`read` and
    :meth:`load`; while running :meth:`changed` and :meth:`save_if_due`; on stop :meth:`save`.
    """

    def __init__(self, directory: Path, table_name: str, region: str):
        self.directory = Path(directory)
        self.table_name = table_name
        self.region = region
        self._lock_file: Any = None
        self._dirty = False
        self._last_save = time.monotonic()
        self._save_after = SAVE_AFTER_SECONDS
        self._last_s3_check = 0.0
        self._s3_saved: dict[tuple[str, str], str] = {}
        self._s3_buckets: set[str] = set()
        self._warned_keys: set[tuple[str, str]] = set()

    @property
    def state_file(self) -> Path:
        return self.directory / STATE_FILE

    # ------------------------------------------------------------ ownership

    def lock(self) -> None:
        """Own the folder for this process. Raises :class:`StateError` if another service owns it."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.directory / LOCK_FILE, "a+")  # noqa: SIM115 - held open: the lock lasts while it is
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise StateError(
                f"{self.directory}/ is in use by another local service (pid {owner}). Stop it, or keep this "
                f"one's data elsewhere: LOCAL_STATE=.local-state-2 make run"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def set_aside(self) -> bool:
        """``FRESH=1``: move the last save to ``previous/`` (replacing an older one); returns whether there was one."""
        saved = [self.directory / STATE_FILE, self.directory / S3_FOLDER]
        if not any(p.exists() for p in saved):
            return False
        previous = self.directory / PREVIOUS_FOLDER
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir(parents=True)
        for path in saved:
            if path.exists():
                path.rename(previous / path.name)
        return True

    # ------------------------------------------------------------ loading

    def read(self) -> dict[str, Any] | None:
        """The last save, or ``None`` when there is none. Raises :class:`StateError` for a file it cannot use."""
        try:
            text = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            saved: dict[str, Any] = json.loads(text)
            version = saved.get("format")
            items, records = saved["items"], saved["undelivered"]
            if not isinstance(items, list) or not isinstance(records, list):
                raise ValueError("items and undelivered must be lists")
        except (ValueError, KeyError, AttributeError) as error:
            raise StateError(f"{self.state_file} cannot be read ({error}). Start empty with FRESH=1 make run "
                             f"(the file is kept in {self.directory / PREVIOUS_FOLDER}/).") from None
        if version != FORMAT:
            raise StateError(f"{self.state_file} has format {version!r}, this version reads {FORMAT}. Start empty "
                             f"with FRESH=1 make run (the file is kept in {self.directory / PREVIOUS_FOLDER}/).")
        return saved

    def load(self, saved: dict[str, Any]) -> tuple[Loaded, list[dict[str, Any]]]:
        """Put the saved items into the (empty) table and the saved objects into S3.

        Returns what was loaded and the saved undelivered stream records, to hand
        to ``StreamPump.replay`` after ``skip_to_end`` (loading writes a stream
        record per item, which must not be delivered: its email was sent or is
        in the saved records). Raises botocore errors.
        """
        dynamodb = aws.client("dynamodb")
        items = [_item_from_json(item) for item in saved["items"]]
        for start in range(0, len(items), _BATCH):
            requests = {self.table_name: [{"PutRequest": {"Item": item}} for item in items[start:start + _BATCH]]}
            while requests:
                requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        files = self._load_s3()
        kinds = [_string(item, "type") for item in saved["items"]]
        clock = saved.get("clock") or {}
        loaded = Loaded(
            registrations=kinds.count("registration"),
            events=kinds.count("event"),
            export_files=files,
            emails_pending=sum(1 for item in saved["items"]
                               if _string(item, "type") == "registration" and _email_pending(item)),
            saved_at=str(saved.get("saved_at", "?")),
            clock_origin=clock.get("origin"),
            clock_at=clock.get("at"),
        )
        return loaded, [_record_from_json(record) for record in saved["undelivered"]]

    def _load_s3(self) -> int:
        root = self.directory / S3_FOLDER
        if not root.is_dir():
            return 0
        s3 = aws.client("s3")
        count = 0
        for bucket_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            bucket = bucket_dir.name
            location = (
                {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            s3.create_bucket(Bucket=bucket, **location)
            self._s3_buckets.add(bucket)
            for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
                key = path.relative_to(bucket_dir).as_posix()
                answer = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                self._s3_saved[(bucket, key)] = answer["ETag"]
                count += 1
        return count

    # ------------------------------------------------------------ saving

    def changed(self) -> None:
        """Note that the table changed (the poller saw stream records): save soon."""
        self._dirty = True

    def save_if_due(self, pump: Any, clock_origin: str | None) -> None:
        """Save when a change is :data:`SAVE_AFTER_SECONDS` old (longer for a big table, see
        :data:`MAX_SAVE_SHARE`); look for S3 changes every :data:`S3_CHECK_SECONDS`."""
        now = time.monotonic()
        if self._dirty and now - self._last_save >= self._save_after:
            self.save(pump, clock_origin)
        elif now - self._last_s3_check >= S3_CHECK_SECONDS:
            self._last_s3_check = now
            self._save_s3()

    def save(self, pump: Any, clock_origin: str | None) -> None:
        """Save the table, the undelivered stream records, the clock and S3 now. Raises ``OSError``, botocore errors."""
        from chalicelib import clock

        self._dirty = False
        self._last_save = time.monotonic()
        with pump.paused():  # no batch in flight: every change in the items was delivered or is undelivered
            started = time.monotonic()
            items = self._table_items()
            self._save_after = max(SAVE_AFTER_SECONDS, (time.monotonic() - started) / MAX_SAVE_SHARE)
            undelivered = pump.undelivered()  # read after the items, so it covers every change they show
        clock_state = None
        if clock_origin:
            zone = clock.pinned_start_zone(clock_origin)
            clock_state = {"origin": clock_origin, "at": clock.now().astimezone(zone).isoformat()}
        document = {
            "format": FORMAT,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "table": self.table_name,
            "clock": clock_state,
            "items": items,
            "undelivered": undelivered,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_name(STATE_FILE + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle, default=_to_json, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_file)
        self._last_s3_check = time.monotonic()
        self._save_s3()

    def _table_items(self) -> list[dict[str, Any]]:
        """Every item of the table (DynamoDB JSON), read while no DynamoDB request runs (one instant)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.utilities import dynamo_json_dump

        from localservice.awsfake import _dynamodb_lock  # the lock that serializes moto's DynamoDB requests

        with _dynamodb_lock:
            table = dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region].get_table(self.table_name)
            attributes = [item.to_json()["Attributes"] for item in table.all_items()]  # new dicts: safe to use after
        items: list[dict[str, Any]] = json.loads(dynamo_json_dump(attributes))
        return items

    def _save_s3(self) -> None:
        """Write new and changed objects of every bucket to ``s3/``, delete the files of deleted ones."""
        s3 = aws.client("s3")
        current: dict[tuple[str, str], str] = {}
        buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for bucket in buckets:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for entry in page.get("Contents", []):
                    current[(bucket, entry["Key"])] = entry["ETag"]
        if current == self._s3_saved and buckets == self._s3_buckets:
            return
        root = self.directory / S3_FOLDER
        for bucket in buckets:
            (root / bucket).mkdir(parents=True, exist_ok=True)
        for (bucket, key), etag in current.items():
            if self._s3_saved.get((bucket, key)) == etag:
                continue
            relative = _safe_key(key)
            if relative is None:
                if (bucket, key) not in self._warned_keys:
                    self._warned_keys.add((bucket, key))
                    print(f"[local] not saved: s3://{bucket}/{key} (the key cannot be a file name)", file=sys.stderr)
                continue
            path = root / bucket / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            os.replace(temporary, path)
        for bucket, key in set(self._s3_saved) - set(current):
            relative = _safe_key(key)
            if relative is not None:
                (root / bucket / relative).unlink(missing_ok=True)
        for bucket in self._s3_buckets - buckets:
            shutil.rmtree(root / bucket, ignore_errors=True)
        self._s3_saved, self._s3_buckets = current, buckets
