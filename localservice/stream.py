"""A small stand-in for Lambda's event source mapping on the table stream.

``chalice local`` runs no event sources, so the local service (and the tests)
read the table's stream records with DynamoDB Streams (GetShardIterator,
GetRecords) and hand them, in Lambda's event shape, to the same
``DeliverEmails`` function that AWS invokes. Records a batch reports as failed
are offered again on the next poll, as Lambda does.

For keeping data across restarts (``localservice.state``) the pump can say which
records it has not delivered yet (:meth:`StreamPump.undelivered`), skip the
records that loading a saved table writes (:meth:`StreamPump.skip_to_end`) and
take the saved undelivered records back (:meth:`StreamPump.replay`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from chalicelib import aws

# With current botocore, DynamoDB Streams calls use account-based endpoints that
# moto does not route; this mode keeps the regional endpoint.
STREAMS_CONFIG = {"account_id_endpoint_mode": "disabled"}


class StreamPump:
    """Reads a table's stream from its start and delivers each new record once to ``handler``.

    ``handler(lambda_event)`` returns a partial batch response; failed records are retried on the next poll.
    """

    def __init__(self, table_name: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]]):
        self.table_name = table_name
        self.handler = handler
        self._last_sequence: dict[str, str] = {}
        self._retry: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _streams(self) -> Any:
        return aws.client("dynamodbstreams", **STREAMS_CONFIG)

    def _new_records(self, advance: bool = True) -> list[dict[str, Any]]:
        """The records after the last one seen, per shard; ``advance=False`` leaves the position as it was."""
        table = aws.client("dynamodb").describe_table(TableName=self.table_name)["Table"]
        arn = table["LatestStreamArn"]
        streams = self._streams()
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        records: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            # A fresh iterator after the last record seen, on every poll: an iterator kept
            # between polls goes stale if the stand-in replaces the shard.
            last = self._last_sequence.get(shard_id)
            seen = last
            position = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                if last else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **position)["ShardIterator"]
            while iterator:
                answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                for record in answer["Records"]:
                    record.setdefault("eventSourceARN", arn)
                    records.append(record)
                    seen = record["dynamodb"]["SequenceNumber"]
                iterator = answer.get("NextShardIterator") if answer["Records"] else None
            if advance and seen is not None:
                self._last_sequence[shard_id] = seen
        return records

    def pump_once(self) -> int:
        """Deliver the records written since the last call (and last call's failures); returns how many."""
        with self._lock:
            records = self._retry + self._new_records()
            if not records:
                return 0
            result = self.handler({"Records": records}, None)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            self._retry = [r for r in records if r["dynamodb"].get("SequenceNumber") in failed]
            return len(records)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold off delivery (no batch is in flight inside the ``with`` block)."""
        with self._lock:
            yield

    def undelivered(self) -> list[dict[str, Any]]:
        """Records not yet delivered: last poll's failures, then everything written since (position kept).

        Call it inside :meth:`paused`, after reading the table, so that every change
        the table shows either was delivered or is in this list.
        """
        return list(self._retry) + self._new_records(advance=False)

    def skip_to_end(self) -> int:
        """Never deliver the records in the stream now (e.g. those of loading a saved table); returns how many."""
        with self._lock:
            return len(self._new_records())

    def replay(self, records: list[dict[str, Any]]) -> None:
        """Deliver ``records`` (saved by :meth:`undelivered`) with the next poll, before anything newer."""
        with self._lock:
            self._retry = list(records) + self._retry
