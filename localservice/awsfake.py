"""The AWS stand-in: the table, the SES identity, and DynamoDB atomicity for moto.

moto applies a DynamoDB request in plain Python with no lock; a failed
transaction even restores a copy of the whole table taken before it ran. Under
concurrent requests (our capacity tests, a browser double-click) that would
lose writes that real DynamoDB never loses. :func:`serialize_dynamodb` makes
moto apply one DynamoDB request at a time, as DynamoDB's item-level atomicity
and transaction isolation promise (ACID for TransactWriteItems). It changes the
stand-in, never our code path.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from chalicelib import store

_dynamodb_lock = threading.RLock()


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB handler apply one request at a time (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def create_table(dynamodb: Any, name: str) -> None:
    """Create the registrations table as the deploy stack does (keys, index, stream, TTL)."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "registration_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": store.REGISTRATION_INDEX,
                "KeySchema": [{"AttributeName": "registration_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": store.TTL_ATTRIBUTE}
    )


def verify_sender(sesv2: Any, sender: str) -> None:
    """Verify the sender's address as an SES identity (moto refuses to send from an unverified one)."""
    from email.utils import parseaddr

    sesv2.create_email_identity(EmailIdentity=parseaddr(sender)[1])
