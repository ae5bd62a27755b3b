#!/usr/bin/env python3
"""CPU one registration and one DeliverEmails batch cost, beside AWS: the basis of the memory default.

Lambda gives a function CPU in proportion to its memory: a full vCPU at
1,769 MB, so 128 MB is about 7% of one (AWS Lambda docs, "Memory and
computing power"). A function that needs C ms of CPU per invocation takes at
least C / share ms at a given memory. This script measures C here:

- a moto server runs in a *separate process* (its CPU is not counted);
- this process imports the app and calls the Lambda handlers as Lambda does
  (``app.app(event, context)`` with API Gateway proxy events, and
  ``chalicelib.entry_deliver.handler`` with stream records in batches of 10
  registrations needing an email), after a warm-up, so boto3 clients exist;
- CPU is ``time.process_time()`` around each call (user + system, this
  process): our code, Pydantic, Jinja2, Babel, icalendar and boto3's request
  signing and parsing, i.e. what Lambda bills as CPU; network waits are not
  CPU.

    .venv/bin/python benchmarks/function_cpu.py [--registrations 200] [--runs 3]

It prints medians (and the 90th percentile) and the time the CPU part alone
would take at several memory sizes. The figures in docs/deploy.md come from
it. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Lambda memory (MB) at which a function has one full vCPU.
FULL_VCPU_MB = 1769
MEMORY_SIZES = (128, 256, 512, 1024, 1769)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto(port: int) -> subprocess.Popen:
    code = (
        "import sys, time; from moto.server import ThreadedMotoServer; "
        "import logging; logging.getLogger('werkzeug').setLevel(logging.WARNING); "
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start(); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


class Context:
    """The attributes of Lambda's context object the app and Powertools read."""

    function_name = "event-registration-benchmark"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:event-registration-benchmark"
    aws_request_id = "benchmark"


def _api_event(method: str, resource: str, path: str, params: dict, body: str | None, headers: dict) -> dict:
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com", **headers},
        "multiValueHeaders": None, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": params, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": "/api" + path,
                           "stage": "api", "requestId": "benchmark"},
        "body": body, "isBase64Encoded": False,
    }


def _cpu_ms(call) -> tuple[float, object]:
    start = time.process_time()
    result = call()
    return (time.process_time() - start) * 1000, result


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(values):6.2f} ms CPU (p90 {p90:6.2f}, n={len(values)})"


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="repetitions of the whole measurement")
    args = parser.parse_args(argv)

    port = _free_port()
    moto = _start_moto(port)
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
        "STAGE": "local", "TABLE_NAME": "benchmark", "SENDER_EMAIL": "Partos Events <events@partos.example.org>",
        "PUBLIC_BASE_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/api",
        "ALLOWED_ORIGINS": "https://www.partos.nl", "TOKEN_KEYS": "k1:benchmark-key",
        "APP_CLOCK": "2023-05-22T09:00:00+02:00", "RETENTION_DAYS": "30",
        "POWERTOOLS_SERVICE_NAME": "event-registration", "POWERTOOLS_LOG_LEVEL": "WARNING",
    })
    try:
        import logging

        import app
        from chalicelib import aws, entry_deliver, store
        from chalicelib.events import Event, load_event_file
        from localservice.awsfake import create_table, verify_sender
        from localservice.stream import StreamPump

        logging.getLogger().setLevel(logging.WARNING)
        create_table(aws.client("dynamodb"), "benchmark")
        verify_sender(aws.client("sesv2"), os.environ["SENDER_EMAIL"])
        seed = load_event_file(ROOT / "events" / "partos-engagement-mobilisatie-2023.yaml")
        registration_cpu: list[float] = []
        batch_cpu: list[float] = []
        page_cpu: list[float] = []
        resource = "/events/{event_id}/registrations"
        for run in range(args.runs):
            event = seed.model_copy(update={"id": f"benchmark-{run}", "capacity": 100_000})
            store.put_event(event)
            path = f"/events/{event.id}/registrations"

            def register(n: int, run: int = run, event: Event = event, path: str = path):
                body = json.dumps({"name": f"Person {n}", "email": f"p{run}-{n}@example.org", "language": "nl",
                                   "consent": True, "organisation": "Wilde Ganzen", "role": "campaigner",
                                   "partos_member": True})
                answer = app.app(_api_event("POST", resource, path, {"event_id": event.id}, body,
                                            {"Content-Type": "application/json"}), Context())
                assert answer["statusCode"] == 201, answer
                return answer

            def form_page(event: Event = event):
                answer = app.app(_api_event("GET", "/events/{event_id}/register", f"/events/{event.id}/register",
                                            {"event_id": event.id}, None, {"Accept-Language": "nl"}), Context())
                assert answer["statusCode"] == 200
                return answer

            for n in range(5):  # warm: clients made, templates compiled, the event cached if it is
                register(-1 - n)
                form_page()
            for n in range(args.registrations):
                registration_cpu.append(_cpu_ms(lambda n=n: register(n))[0])
                if n % 10 == 0:
                    page_cpu.append(_cpu_ms(form_page)[0])

            def deliver(lambda_event, context):
                needing = [r for r in lambda_event["Records"] if r.get("eventName") == "INSERT"
                           and r["dynamodb"].get("NewImage", {}).get("type", {}).get("S") == "registration"]
                failures = []
                warm = not batch_cpu
                for start in range(0, len(needing), 10):
                    batch = {"Records": needing[start:start + 10]}
                    cpu, result = _cpu_ms(lambda batch=batch: entry_deliver.handler(batch, Context()))
                    if len(batch["Records"]) == 10 and not (warm and start == 0):
                        batch_cpu.append(cpu)
                    failures += result.get("batchItemFailures", [])
                return {"batchItemFailures": failures}

            StreamPump("benchmark", deliver).pump_once()
    finally:
        moto.stdin.close()
        moto.terminate()
        moto.wait(timeout=30)

    print(f"registration (POST, JSON, confirmed): {_summary(registration_cpu)}")
    print(f"form page (GET, nl):                  {_summary(page_cpu)}")
    print(f"DeliverEmails batch of 10 emails:     {_summary(batch_cpu)}")
    reg, batch = statistics.median(registration_cpu), statistics.median(batch_cpu)
    print()
    print("CPU part alone at each memory size (share of a vCPU = MB / 1769):")
    print(f"{'memory':>8} {'share':>6} {'registration':>13} {'batch of 10':>12}")
    for memory in MEMORY_SIZES:
        share = min(1.0, memory / FULL_VCPU_MB)
        print(f"{memory:>6}MB {share:>6.0%} {reg / share:>10.1f} ms {batch / share:>9.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
