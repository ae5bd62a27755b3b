"""The table's client and the reads, conditional update and error readings every part of the store shares."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.errors import retried
from chalicelib.settings import get_settings
from chalicelib.store.serialize import deserialize, serialize


def _ddb() -> Any:
    return aws.client("dynamodb")


def _table() -> str:
    return get_settings().table_name

def _exists(key: dict[str, Any]) -> dict[str, Any] | None:
    answer = _ddb().get_item(TableName=_table(), Key=serialize(key), ConsistentRead=True)
    return deserialize(answer["Item"]) if "Item" in answer else None

def _conditional_update(key: dict[str, Any], *, update: str, condition: str, values: dict[str, Any],
                        names: dict[str, str] | None = None) -> dict[str, Any] | None:
    """One conditional UpdateItem of the item at ``key`` (``key`` and ``values`` in typed JSON).

    ``names`` are the expression's attribute names, if it uses any. Returns ``None`` when
    written; when ``condition`` failed, the item as it saw it
    (``ReturnValuesOnConditionCheckFailure``) as plain values, ``{}`` when there was no item.
    Any other error of DynamoDB is raised (``botocore.exceptions.ClientError``).
    """
    try:
        _ddb().update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **({"ExpressionAttributeNames": names} if names else {}),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        seen: Any = error.response.get("Item")
        return deserialize(seen) if seen else {}
    return None

class _Unprocessed(Exception):
    """A BatchGetItem answer left keys unprocessed (throttling): ask again for those."""


def _batch_get(keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Consistent BatchGetItem of a few keys of the table: ``{(pk, sk): plain item}`` for those that exist.

    Unlike TransactGetItems, a BatchGetItem is never refused because a transaction
    is writing one of the items (the counters item is written all the time in a rush).
    Keys DynamoDB leaves unprocessed are asked for again, with backoff, a few times.
    """
    table = _table()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    pending = keys

    @retried(5, on=_Unprocessed, max_wait=0.5)
    def ask() -> None:
        nonlocal pending
        answer = _ddb().batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
        for raw in answer.get("Responses", {}).get(table, []):
            item = deserialize(raw)
            found[(item["pk"], item["sk"])] = item
        pending = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        if pending:
            raise _Unprocessed(f"{len(pending)} keys unprocessed")

    ask()
    return found

def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def _cancellation_items(error: ClientError) -> list[dict[str, Any] | None]:
    """The item each operation's failed condition saw (``ReturnValuesOnConditionCheckFailure``), as plain values."""
    reasons = error.response.get("CancellationReasons") or []
    return [deserialize(r["Item"]) if r.get("Item") else None for r in reasons]


def _retryable(codes: list[str]) -> bool:
    """Whether a cancelled transaction failed only on conditions or conflicts (read again and retry).

    Any other reason (a validation error, an item too large) would fail again the same way.
    """
    return bool(codes) and all(c in ("None", "ConditionalCheckFailed", "TransactionConflict") for c in codes)
