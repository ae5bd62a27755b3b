"""Reading DynamoDB table exports (``ExportTableToPointInTime``, format ``DYNAMODB_JSON``).

An export as AWS writes it under ``s3://<bucket>/<prefix>/AWSDynamoDB/<export id>/``::

    manifest-summary.json   one JSON object: outputFormat, itemCount, manifestFilesS3Key, exportTime, ...
    manifest-files.json     JSON lines, one per data file: {"itemCount": .., "dataFileS3Key": "<key>", ...}
    data/<name>.json.gz     gzip text, one {"Item": {<attribute>: {<type>: <value>}}} per line

moto's stand-in writes only ``data/<uuid>.gz`` (no manifests); that is read too, as are the
same files copied to a local folder (``aws s3 sync``), and a single ``.gz`` data file.

A SOURCE (``s3://bucket/prefix`` or a local folder) may hold several exports: the newest
(by the manifest's ``exportTime``, else by file time) is used and a note says which.
Reading streams: one line of one data file in memory at a time.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

import msgspec

from chalicelib import aws, store

T = TypeVar("T")
DATA_FILE = re.compile(r"(?:^|/)data/[^/]+\.gz$")
SUMMARY_NAME = "manifest-summary.json"


class ExportNotFound(Exception):
    """No DynamoDB export (manifests or data files) under the source, or a listed data file is missing."""


class ExportFormatError(ValueError):
    """The export is not in ``DYNAMODB_JSON`` format, or a file is not what the layout says."""


@dataclass(frozen=True)
class Listed:
    """One file of a source: its key (S3 key, or path relative to the folder), size in bytes,
    modification time (epoch seconds)."""

    key: str
    size: int
    mtime: float


class Source:
    """Where an export lies; subclasses list and open files by key."""

    def files(self) -> list[Listed]:
        """Every file under the source."""
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        """A binary stream of one file."""
        raise NotImplementedError

    def describe(self, key: str = "") -> str:
        """A human-readable location of ``key`` (or of the source)."""
        raise NotImplementedError


class LocalSource(Source):
    """A local folder (or one ``.gz`` data file)."""

    def __init__(self, path: Path):
        self.path = path

    def files(self) -> list[Listed]:
        if self.path.is_file():
            stat = self.path.stat()
            return [Listed(self.path.name, stat.st_size, stat.st_mtime)]
        found = []
        for file in sorted(self.path.rglob("*")):
            if file.is_file():
                stat = file.stat()
                found.append(Listed(file.relative_to(self.path).as_posix(), stat.st_size, stat.st_mtime))
        return found

    def open(self, key: str) -> BinaryIO:
        if self.path.is_file():
            return open(self.path, "rb")
        return open(self.path / key, "rb")

    def describe(self, key: str = "") -> str:
        return str(self.path / key) if key and not self.path.is_file() else str(self.path)


class S3Source(Source):
    """``s3://bucket/prefix``: every object whose key starts with the prefix."""

    def __init__(self, bucket: str, prefix: str):
        self.bucket = bucket
        self.prefix = prefix

    def files(self) -> list[Listed]:
        from botocore.exceptions import ClientError

        found = []
        paginator = aws.client("s3").get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    found.append(Listed(obj["Key"], int(obj.get("Size", 0)), obj["LastModified"].timestamp()))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchBucket":  # an unknown export: exit 1
                raise ExportNotFound(f"s3://{self.bucket}: no such bucket") from None
            raise
        return found

    def open(self, key: str) -> BinaryIO:
        body: BinaryIO = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"]
        return body

    def describe(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key or self.prefix}"


def parse_source(text: str) -> Source:
    """``s3://bucket/prefix`` or a local path as a :class:`Source`.

    Raises :class:`ExportNotFound` for a local path that does not exist, ``ValueError`` for ``s3://`` without a bucket.
    """
    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {text!r}; write s3://bucket/prefix")
        return S3Source(bucket, prefix)
    path = Path(text).expanduser()
    if not path.exists():
        raise ExportNotFound(f"{text}: no such file or folder")
    return LocalSource(path)


@dataclass
class Layout:
    """What :func:`locate` found: the data files to read, in order, and what is known about them."""

    source: Source
    data_files: list[Listed]
    kind: str  # "manifests", "data files" or "file"
    export_dir: str
    item_count: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Compressed size of the data files (the unit of the progress bar)."""
        return sum(f.size for f in self.data_files)


def _export_dir_of(key: str) -> str:
    if "/data/" in key:
        return key.rsplit("/data/", 1)[0]
    return ""


def _resolve(key: str, export_dir: str, by_key: dict[str, Listed]) -> Listed:
    """The listed file a manifest's key means, also when the export was copied elsewhere."""
    if key in by_key:
        return by_key[key]
    if "AWSDynamoDB/" in key:
        tail = key.split("AWSDynamoDB/", 1)[1].split("/", 1)[-1]
    elif "data/" in key:
        tail = "data/" + key.rsplit("data/", 1)[1]
    else:
        tail = posixpath.basename(key)
    candidate = posixpath.join(export_dir, tail) if export_dir else tail
    if candidate in by_key:
        return by_key[candidate]
    raise ExportNotFound(f"the manifest names {key}, which is not in the export")


def _read_json(source: Source, key: str) -> Any:
    with source.open(key) as stream:
        try:
            return json.loads(stream.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExportFormatError(f"{source.describe(key)}: not JSON ({exc})") from None


def locate(source: Source) -> Layout:
    """Find the export's data files under ``source`` (newest export if there are several).

    Raises :class:`ExportNotFound` (nothing that looks like an export) and
    :class:`ExportFormatError` (an export in another format than ``DYNAMODB_JSON``).
    """
    listed = source.files()
    by_key = {f.key: f for f in listed}
    if isinstance(source, LocalSource) and source.path.is_file():
        return Layout(source, listed, "file", "")
    summaries = [f for f in listed if posixpath.basename(f.key) == SUMMARY_NAME]
    notes: list[str] = []
    if summaries:
        loaded = [(f, _read_json(source, f.key)) for f in summaries]
        for f, summary in loaded:
            if not isinstance(summary, dict):
                raise ExportFormatError(f"{source.describe(f.key)}: not a JSON object")
        loaded.sort(key=lambda pair: (str(pair[1].get("exportTime", "")), pair[0].mtime))
        chosen, summary = loaded[-1]
        export_dir = posixpath.dirname(chosen.key)
        if len(loaded) > 1:
            notes.append(f"{len(loaded)} exports found; using the newest, {source.describe(export_dir)}")
        fmt = summary.get("outputFormat", "DYNAMODB_JSON")
        if fmt != "DYNAMODB_JSON":
            raise ExportFormatError(f"the export is in {fmt} format; export with ExportFormat DYNAMODB_JSON")
        manifest_key = summary.get("manifestFilesS3Key") or posixpath.join(export_dir, "manifest-files.json")
        manifest = _resolve(manifest_key, export_dir, by_key)
        data_files = []
        with source.open(manifest.key) as stream:
            for line in io.TextIOWrapper(stream, encoding="utf-8"):
                if line.strip():
                    try:
                        key = json.loads(line)["dataFileS3Key"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise ExportFormatError(f"{source.describe(manifest.key)}: a line is not "
                                                f"{{\"dataFileS3Key\": ...}} JSON ({exc!r})") from None
                    data_files.append(_resolve(key, export_dir, by_key))
        count = summary.get("itemCount")
        return Layout(source, data_files, "manifests", export_dir, int(count) if count is not None else None, notes)
    data = [f for f in listed if DATA_FILE.search(f.key)]
    if not data:
        raise ExportNotFound(f"no DynamoDB export under {source.describe()} (no manifest-summary.json, no data/*.gz)")
    groups: dict[str, list[Listed]] = {}
    for f in data:
        groups.setdefault(_export_dir_of(f.key), []).append(f)
    export_dir = max(groups, key=lambda d: max(f.mtime for f in groups[d]))
    if len(groups) > 1:
        notes.append(f"{len(groups)} exports found; using the newest, {source.describe(export_dir)}")
    return Layout(source, groups[export_dir], "data files", export_dir, None, notes)


class _Counting(io.RawIOBase):
    """A read-only stream that reports how many bytes pass through it."""

    def __init__(self, inner: BinaryIO, report: Callable[[int], None] | None):
        self.inner = inner
        self.report = report

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self.report and n:
            self.report(n)
        return n


class ExportLine(msgspec.Struct, Generic[T]):
    """One line of a data file, ``{"Item": {<attribute>: {<type>: <value>}, ...}}``, decoded as ``ExportLine[T]``."""

    Item: T


def iter_raw_items(layout: Layout, progress: Callable[[int], None] | None = None,
                   item_type: Any = dict[str, Any]) -> Iterator[Any]:
    """Every item of the export in DynamoDB's typed JSON (``{"pk": {"S": ...}, ...}``), file by file, line by line.

    Lines are decoded by msgspec as ``ExportLine[item_type]``: a ``dict`` by default, or a
    ``msgspec.Struct`` naming the attributes wanted (the others are skipped, not built).
    ``progress(n)`` is called with the compressed bytes read. Raises
    :class:`ExportFormatError` for a line that is not ``{"Item": {...}}`` JSON in UTF-8 (or
    does not fit ``item_type``) and for a data file that is not gzip or is cut short.
    """
    decode = msgspec.json.Decoder(ExportLine[item_type]).decode
    for data_file in layout.data_files:
        where = layout.source.describe(data_file.key)
        with layout.source.open(data_file.key) as raw:
            stream = io.BufferedReader(_Counting(raw, progress), buffer_size=256 * 1024)
            try:
                with gzip.GzipFile(fileobj=stream) as unzipped:
                    # BufferedReader's readline is C; GzipFile's own is Python, once per line
                    for number, line in enumerate(io.BufferedReader(unzipped, buffer_size=64 * 1024), start=1):
                        try:
                            item = decode(line).Item
                        except ValueError as exc:  # msgspec.DecodeError, UnicodeDecodeError
                            if not line.strip():
                                continue
                            raise ExportFormatError(
                                f"{where} line {number}: not a DynamoDB JSON item ({exc})") from None
                        yield item
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # not gzip, cut short, corrupt
                raise ExportFormatError(f"{where}: not a whole gzip data file ({exc})") from None


def plain(value: dict[str, Any]) -> Any:
    """One attribute value in DynamoDB's typed JSON as a plain value, like ``store.deserialize``.

    ``S``, ``BOOL``, ``NULL``, ``L`` and ``M`` (what registration items hold) are unwrapped here;
    every other type (``N``, ``SS``, ``NS``, ``B``, ``BS``) goes through ``store.deserialize``
    (boto3's ``TypeDeserializer``; whole numbers as ``int``). The result equals
    ``store.deserialize({"a": value})["a"]`` (binary values excepted: ``bytes`` here, not
    boto3's ``Binary``), without its cost per attribute, which was most of the time of a
    conversion before. Raises ``ValueError``/``TypeError`` for a value that is not one typed
    attribute.
    """
    if len(value) == 1:
        text = value.get("S")
        if text is not None:
            return text
        ((kind, inner),) = value.items()
        if kind == "BOOL":
            return inner
        if kind == "M":
            return {key: plain(item) for key, item in inner.items()}
        if kind == "L":
            return [plain(item) for item in inner]
        if kind == "NULL":
            return None
    else:
        kind = ""
    result = store.deserialize({"a": value})["a"]
    if kind == "B":
        return bytes(result)
    if kind == "BS":
        return {bytes(b) for b in result}
    return result
