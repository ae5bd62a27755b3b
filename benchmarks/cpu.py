"""CPU time the app spends per registration beside AWS, measured side by side in one run.

AWS is answered on the wire by a botocore ``before-send`` hook (no network, no moto): the
``TransactWriteItems`` of a registration gets DynamoDB's empty success answer, the definition's
``GetItem`` the stored event item. Two loops run alternately, several rounds:

- **app**: the Lambda handler (``app.app(event, context)``) with an API Gateway proxy event of
  ``POST /events/{id}/registrations`` (JSON), as Lambda calls it: routing, CORS, parsing,
  validation, the registration write, the answer and its log line;
- **aws**: the app's own ``TransactWriteItems`` request (captured from it), sent bare through the
  same botocore client with the same stubbed answer: what the AWS call itself costs in CPU.

The difference is the app's CPU per registration beside AWS (goal: at most 1.0 ms): the median of
each round's difference, so that a burst of load on the machine shifts both loops of a round alike.
Figures are ``time.process_time``; ``--profile`` prints where the app loop spends it (cProfile).

    .venv/bin/python -m benchmarks.cpu
    .venv/bin/python -m benchmarks.cpu --code /tmp/before      # another checkout's app, same stubs

README, "Performance", lists the figures.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EVENT_ID = "partos-engagement-mobilisatie-2023"


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def _environment() -> None:
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    os.environ.update(config.get("environment_variables", {}))
    os.environ.update(config["stages"]["local"]["environment_variables"])
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-west-1",  # noqa: S106 - a dummy key, no AWS
                      AWS_REGION="eu-west-1", AWS_ENDPOINT_URL="http://aws.invalid", MIN_FILL_SECONDS="0")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def _stub_dynamodb(event_item: dict[str, Any]) -> None:
    """Answer DynamoDB on the wire: empty success for writes, the event item for GetItem, counters for the rest."""
    from botocore.awsrequest import AWSResponse

    from chalicelib import aws

    def answer(request: Any, **_: Any) -> AWSResponse:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        operation = target.rsplit(".", 1)[-1]
        if operation == "GetItem":
            body = {"Item": event_item}
        elif operation == "TransactGetItems":
            body = {"Responses": [{"Item": event_item}, {}]}
        else:
            body = {}
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "bench"}, _Raw(json.dumps(body).encode()))

    aws.client("dynamodb").meta.events.register_first("before-send.dynamodb", answer)


def _proxy_event(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestContext": {"httpMethod": "POST", "resourcePath": "/events/{event_id}/registrations",
                           "identity": {"sourceIp": "203.0.113.9"}, "path": f"/events/{EVENT_ID}/registrations"},
        "headers": {"content-type": "application/json", "accept": "application/json", "host": "bench.invalid"},
        "pathParameters": {"event_id": EVENT_ID},
        "multiValueQueryStringParameters": None,
        "stageVariables": {},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _body(i: int) -> dict[str, Any]:
    return {"name": f"Registrant {i}", "email": f"registrant-{i}@example.org", "language": "nl", "consent": True,
            "organisation": "Wilde Ganzen", "role": "campaigner", "partos_member": True, "needs": "Vegetarisch"}


class _Context:
    function_name = "APIHandler"
    aws_request_id = "bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-1:000000000000:function:APIHandler"


def main(argv: list[str] | None = None) -> int:
    """Measure and print the medians (milliseconds of CPU per registration)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=500, help="per round and loop")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose app is measured (default: this one)")
    parser.add_argument("--profile", action="store_true", help="print the app loop's cProfile (top 40)")
    parser.add_argument("--sort", default="tottime", help="cProfile order for --profile (tottime, cumulative, ...)")
    parser.add_argument(
        "--filter", default="", help="only functions whose file or name matches this regular expression"
    )
    args = parser.parse_args(argv)

    _environment()
    sys.path.insert(0, str(args.code.resolve()))
    os.chdir(args.code.resolve())
    from app import app, logger
    from chalicelib import aws, store
    from chalicelib.events import load_event_file

    logger.registered_handler.setStream(io.StringIO())  # the log line is written (and measured), not shown
    event = load_event_file(REPO / "events" / f"{EVENT_ID}.yaml").model_copy(update={"capacity": None})
    event_item = store.serialize({"pk": store.event_pk(EVENT_ID), "sk": store.EVENT_SK, "type": "event",
                                  "definition": event.model_dump_json(), "seats_taken": 0})
    _stub_dynamodb(event_item)
    client = aws.client("dynamodb")
    sent: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append(copy.deepcopy(params))

    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", capture)
    events = [_proxy_event(_body(i)) for i in range(args.registrations)]
    context = _Context()

    def app_loop() -> None:
        for proxy in events:
            answer = app(proxy, context)
            assert answer["statusCode"] == 201, answer

    app_loop()  # warm: imports on first use, the definition cache, botocore's models
    shape = sent[-1]  # the app's own last TransactWriteItems request, replayed as is
    client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", capture)
    sent.clear()

    def aws_loop() -> None:
        for _ in events:
            client.transact_write_items(**shape)

    aws_loop()
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(app_loop)
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.filter, 40)
    figures: dict[str, list[float]] = {"app": [], "aws": []}
    for _ in range(args.rounds):
        for name, loop in (("app", app_loop), ("aws", aws_loop)):
            start = time.process_time()
            loop()
            figures[name].append((time.process_time() - start) * 1000 / args.registrations)
    app_ms, aws_ms = statistics.median(figures["app"]), statistics.median(figures["aws"])
    beside = statistics.median(a - b for a, b in zip(figures["app"], figures["aws"], strict=True))  # paired per round
    print(f"code: {args.code.resolve()}  registrations: {args.registrations} x {args.rounds} rounds")
    print(f"CPU per registration, median: handler {app_ms:.2f} ms, bare AWS call {aws_ms:.2f} ms, "
          f"app beside AWS {beside:.2f} ms (median of the rounds' differences)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
