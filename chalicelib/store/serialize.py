"""Plain values to DynamoDB's typed JSON and back, and the small conversions every write shares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item (str, int, bool, list, dict, None) in DynamoDB's typed JSON."""
    return {k: _serializer.serialize(v) for k, v in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB typed JSON to plain values; whole numbers come back as ``int``."""
    plain: dict[str, Any] = {k: _plain_numbers(_deserializer.deserialize(v)) for k, v in item.items()}
    return plain


def _plain_numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, set):
        return {_plain_numbers(v) for v in value}
    return value

def _epoch(instant: datetime) -> dict[str, str]:
    """An aware instant as a DynamoDB number: epoch seconds, to the microsecond."""
    return {"N": f"{instant.timestamp():.6f}"}

def _indexed(item: dict[str, Any], prefix: str) -> dict[int, Any]:
    """``{n: value}`` for the attributes named ``<prefix><digits>`` (``w3``, ``t151``) of a plain item."""
    found = {}
    for name, value in item.items():
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            found[int(name[len(prefix):])] = value
    return found
