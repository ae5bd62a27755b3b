"""The local AWS stand-in for benchmarks: moto's server with DynamoDB applied one request at a time.

Run as ``python -m benchmarks.standin PORT``; it prints ``ready`` and serves until stdin closes
or SIGTERM. A separate process, so the stand-in's CPU is not shared with the clients measured.
The same ``localservice.awsfake.serialize_dynamodb`` as ``make run`` and the tests.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    """Serve on ``127.0.0.1:<argv[1]>`` until stdin closes or SIGTERM."""
    import logging

    from moto.server import ThreadedMotoServer

    from localservice.awsfake import serialize_dynamodb

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    timing = _time_requests() if os.environ.get("STANDIN_TIMING") else None  # inside the lock below
    serialize_dynamodb()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
        if timing is not None:
            for operation, (count, seconds) in sorted(timing.items()):
                print(f"stand-in: {operation} {count} requests, {seconds / count * 1000:.2f} ms each", file=sys.stderr)
    return 0


def _time_requests() -> dict[str, list[float]]:
    """Time each DynamoDB request inside the stand-in (``STANDIN_TIMING=1``): ``{operation: [count, seconds]}``."""
    import time

    from moto.dynamodb.responses import DynamoHandler

    timing: dict[str, list[float]] = {}
    original = DynamoHandler.call_action

    def call_action(self):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return original(self)
        finally:
            operation = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
            entry = timing.setdefault(operation, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - start

    DynamoHandler.call_action = call_action
    return timing


if __name__ == "__main__":
    raise SystemExit(main())
