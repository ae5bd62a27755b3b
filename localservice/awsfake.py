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
import json
import threading
import time
from typing import Any

from chalicelib import store

_dynamodb_lock = threading.RLock()


def _precheck_transactions() -> None:
    """Refuse a transaction whose conditions fail before moto copies the whole table.

    moto's TransactWriteItems deep-copies every table it touches, stream records
    included, before applying the operations, so that it can roll back; with a
    few hundred items each transaction takes a tenth of a second, and a burst of
    conflicting registrations takes minutes. With requests serialized, checking
    every condition first gives the same answer (the same cancellation reasons)
    without the copy. A transaction that passes the check is applied with moto's
    own item operations after saving only what it can change (the touched items
    and the stream's length); if an operation fails, that state is put back and
    moto's own code runs the transaction to produce its usual error. Anything
    the check cannot judge goes through moto's code unchanged.
    """
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_prechecked", False):
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        from moto.dynamodb.comparisons import get_filter_expression as parse_condition

        errors: list[tuple[Any, Any, Any]] = []
        touched: list[tuple[Any, dict[str, Any]]] = []
        try:
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                touched.append((table, key))
                condition = op.get("ConditionExpression")
                current = self.get_item(op["TableName"], key)
                if condition is not None and not parse_condition(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                ).expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                else:
                    errors.append((None, None, None))
        except Exception:  # let moto produce its own error for anything unusual
            return original(self, transact_items)
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        saved = _save(self, touched)
        try:
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"])
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], op["Key"])
                elif op_type == "Update":
                    self.update_item(op["TableName"], op["Key"], update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
        except Exception:
            _restore(saved)
            return original(self, transact_items)
        return None

    transact_write_items._prechecked = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _save(backend: Any, touched: list[tuple[Any, dict[str, Any]]]) -> list[tuple[Any, Any, Any, Any, int | None]]:
    """Copies of the items a transaction may change, and each stream's length, to undo it."""
    import copy

    saved = []
    for table, key in touched:
        item = table.get_item(_dynamo(key[table.hash_key_attr]),
                              _dynamo(key[table.range_key_attr]) if table.range_key_attr else None)
        shard = table.stream_shard
        saved.append((table, key, copy.deepcopy(item), None, len(shard.items) if shard is not None else None))
    return saved


def _restore(saved: list[tuple[Any, Any, Any, Any, int | None]]) -> None:
    """Undo a partly applied transaction: put back each saved item (or remove it) and trim the streams."""
    for table, key, item, _, stream_length in reversed(saved):
        hash_value = _dynamo(key[table.hash_key_attr])
        range_value = _dynamo(key[table.range_key_attr]) if table.range_key_attr else None
        if item is None:
            if range_value is not None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items.pop(hash_value, None)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item
        if stream_length is not None:
            del table.stream_shard.items[stream_length:]


def _dynamo(value: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(value)


#: DynamoDB keeps a TransactWriteItems ``ClientRequestToken`` for 10 minutes: the same token again
#: succeeds without applying anything twice (AWS API reference, TransactWriteItems). botocore fills the
#: token in once per call (an ``idempotencyToken`` member), so its own retries of a transaction whose
#: answer was lost are harmless on AWS; moto ignores the token and applied them again (a registration
#: answered 409 ``already-registered`` by its own retry, in a stress run of ``make run``).
IDEMPOTENCY_SECONDS = 600
_applied_transactions: dict[str, tuple[float, Any]] = {}


def _transaction_token(handler: Any) -> str | None:
    """The ``ClientRequestToken`` of a TransactWriteItems request to moto's handler, else ``None``."""
    if not str(handler.headers.get("X-Amz-Target", "")).endswith(".TransactWriteItems"):
        return None
    try:
        token = json.loads(handler.body or "{}").get("ClientRequestToken")
    except ValueError:
        return None
    return str(token) if token else None


def _remember_transaction(token: str, answer: Any) -> None:
    """Keep a successful transaction's answer for :data:`IDEMPOTENCY_SECONDS` (older ones are forgotten)."""
    now = time.monotonic()
    while _applied_transactions:
        oldest = next(iter(_applied_transactions))
        if now - _applied_transactions[oldest][0] < IDEMPOTENCY_SECONDS:
            break
        del _applied_transactions[oldest]
    _applied_transactions[token] = (now, answer)


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB handler apply one request at a time, fail transactions cheaply, and honour a
    transaction's ``ClientRequestToken`` as DynamoDB does (:data:`IDEMPOTENCY_SECONDS`)."""
    from moto.dynamodb.responses import DynamoHandler

    _precheck_transactions()
    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            token = _transaction_token(self)
            seen = _applied_transactions.get(token) if token is not None else None
            if seen is not None and time.monotonic() - seen[0] < IDEMPOTENCY_SECONDS:
                return seen[1]
            answer = original(self)
            if token is not None and answer[0] == 200:
                _remember_transaction(token, answer)
            return answer

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


def create_configuration_set(sesv2: Any, name: str) -> None:
    """Create the stage's SES configuration set (``SES_CONFIGURATION_SET``), as the deploy stack does.

    moto accepts a send naming any configuration set and publishes no events for it; the local
    stage feeds hand-built events to the ``RecordEmailEvents`` function instead (README, "Emails").
    Nothing to do for an empty name; an existing set is kept.
    """
    if not name:
        return
    from botocore.exceptions import ClientError

    try:
        sesv2.create_configuration_set(ConfigurationSetName=name)
    except ClientError as error:
        if "AlreadyExists" not in error.response.get("Error", {}).get("Code", ""):
            raise


#: What the stand-in answers a web page (README, "Quick start", `AWS_PORT`: the stand-in answers local tools only).
REFUSED_BODY = (b"The AWS stand-in of make run answers only local tools (boto3, the staff command), "
                b"not web pages.\n")


def local_tools_only(app: Any, port: int) -> Any:
    """WSGI middleware for moto's server: refuse what a web page could send, keep what boto3 sends.

    moto answers any ``Origin`` with CORS headers that allow it, and checks no signature, so
    without this any page open in a browser while ``make run`` runs could read every stored
    registration and email (``/moto-api/data.json``) or write the table. Refused with 403:
    a request with an ``Origin`` header other than the stand-in's own (the Fetch standard sends it on
    every cross-origin request and every POST), a ``Sec-Fetch-Site`` of ``cross-site`` or
    ``same-site`` (another port of this machine is the same site), and a ``Host`` other than
    ``127.0.0.1:<port>`` or ``localhost:<port>`` (DNS rebinding: a page's own name resolving here).
    botocore sends none of these headers and the ``Host`` of ``AWS_ENDPOINT_URL``; typing a
    stand-in URL into the address bar still works (``Sec-Fetch-Site: none``).
    """
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    own = {f"http://{host}" for host in hosts}

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        origin = environ.get("HTTP_ORIGIN")
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE", "").lower()
        host = environ.get("HTTP_HOST", "").lower()
        if (origin is not None and origin not in own) or fetch_site in ("cross-site", "same-site") or host not in hosts:
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(REFUSED_BODY))), ("Cache-Control", "no-store")])
            return [REFUSED_BODY]
        return app(environ, start_response)

    return guarded


def local_moto_server(port: int) -> Any:
    """moto's ``ThreadedMotoServer`` on ``127.0.0.1:<port>`` behind :func:`local_tools_only` (not yet started)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class LocalMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto 5.2.5's own, with the app wrapped (moto is pinned)
            app = local_tools_only(DomainDispatcherApplication(create_backend_app), port)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return LocalMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
