"""A launch rush: N registrants at the same moment for C seats, against the local AWS stand-in.

Measures, side by side in one run, on the same stand-in (moto's server in its own process,
DynamoDB applied one request at a time by ``localservice.awsfake.serialize_dynamodb``, as in
``make run`` and the tests):

- **ours**: N threads released together, each calling ``chalicelib.registrations.register``
  (validation, seats, waitlist, exactly the path of ``POST /events/{id}/registrations``
  minus HTTP) for one event with C seats and a waitlist;
- **floor**: N threads released together, each sending one bare ``TransactWriteItems`` of the
  shape of its registration's write (:func:`run_floor`): the least any registration can cost;
- **floor2**, the two-request floor: the same, but each waitlisted one first takes a ticket by a bare
  ``UpdateItem`` as our waitlist path does: the least our design can cost, so ours against it is
  our own overhead.

Rounds alternate which goes first; the summary gives medians. Printed per registration:
attempts (tries of the whole write: 1 + the retries after a ``store.Busy``, i.e. after a
condition failed because another write got there first), transaction writes
(``TransactWriteItems`` requests, failed ones included: a seat write that finds the event full
counts too), all DynamoDB requests by operation, answers other than confirmed/waitlisted (a 503
``busy`` is ``chalicelib.errors.Busy``), and registrations per second as a fraction of the floor.

    .venv/bin/python -m benchmarks.rush                      # this checkout
    .venv/bin/python -m benchmarks.rush --code /tmp/before   # another checkout's chalicelib, same stand-in

README, "Performance", lists the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(port: int) -> None:
    """The ``local`` stage's settings (``.chalice/config.json``), pointed at the stand-in."""
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    os.environ.update(config.get("environment_variables", {}))
    os.environ.update(config["stages"]["local"]["environment_variables"])
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - a dummy key for moto
        AWS_DEFAULT_REGION="eu-west-1", AWS_REGION="eu-west-1",
        MIN_FILL_SECONDS="0",
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


class Retries:
    """Counts ``store.Busy`` exceptions made (``store.Conflict`` in a checkout from before the name):
    each is one failed try that ``register`` retries."""

    def __init__(self, store: Any) -> None:
        self.count = 0
        self._lock = threading.Lock()
        busy = getattr(store, "Busy", None) or store.Conflict
        original = busy.__init__

        def counted(conflict: Any, *args: Any, **kwargs: Any) -> None:
            with self._lock:
                self.count += 1
            original(conflict, *args, **kwargs)

        busy.__init__ = counted

    def take(self) -> int:
        with self._lock:
            count, self.count = self.count, 0
        return count


class Calls:
    """DynamoDB requests by operation, counted with botocore's ``before-call`` event hook."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def hook(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1

    def take(self) -> Counter[str]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts


def _released_together(count: int, concurrency: int, work) -> tuple[float, list[Any]]:
    """``work(i)`` for ``i < count`` on ``concurrency`` threads, released at once.

    Returns (seconds from the release until the last one ends, results or exceptions).
    """
    go = threading.Event()
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        go.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # an answer other than 201 is counted, not raised
            results[i] = error

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for i in range(count):
            pool.submit(one, i)
        time.sleep(0.2)  # let the threads start and wait
        start = time.perf_counter()
        go.set()
    return time.perf_counter() - start, results


def _registrant(i: int, prefix: str) -> dict[str, Any]:
    return {
        "name": f"Registrant {i}", "email": f"{prefix}-{i}@example.org", "language": "nl", "consent": True,
        "organisation": "Wilde Ganzen", "role": "campaigner", "partos_member": True, "needs": "Vegetarisch",
    }


def run_ours(event, registrants: int, concurrency: int, tag: str, seats: int) -> tuple[float, list[Any]]:
    """``registrations.register`` for ``registrants`` people on ``concurrency`` threads, for ``event``."""
    from chalicelib import registrations

    return _released_together(
        registrants, concurrency, lambda i: registrations.register(event.id, _registrant(i, tag), "nl", event=event),
    )


def run_floor(event, registrants: int, concurrency: int, tag: str, seat_count: int,
              *, ticket_first: bool = False) -> tuple[float, list[Any]]:
    """One bare ``TransactWriteItems`` per registrant, of the shape of its registration's write, all at once.

    With ``ticket_first`` (the "two-request floor"), each waitlisted one first takes its ticket by a bare
    ``UpdateItem`` (``ADD waitlist_seq``, as ``store.take_waitlist_ticket``): the least a design with a
    ticket before the write can cost, against which ours shows its own overhead (failed seat writes,
    retries, Python).

    The first ``seat_count`` get the shape of a confirmed registration (Put of the registration item,
    Put of its address guard, ``ADD seats_taken`` on the counters item); the others that of a
    waitlisted one (the same Puts, ``ADD waitlisted_count``, ``w<bucket>`` on the counters item,
    the ticket's entry in its waitlist bucket item). Items of the same size, and the same conditions
    (window, seats, waitlist) on counters items made so that they always hold.
    """
    from chalicelib import aws, store

    table = os.environ["TABLE_NAME"]
    client = aws.client("dynamodb")
    pk = store.event_pk(event.id)
    seats = {"pk": {"S": pk}, "sk": {"S": "#FLOOR-SEATS"}}  # never full
    full = {"pk": {"S": pk}, "sk": {"S": "#FLOOR-WAITLIST"}}  # always full, with a waitlist
    window = {"opens_at": {"N": "0"}, "closes_at": {"N": "4102444800"}}
    client.put_item(
        TableName=table, Item={**seats, **window, "seats_taken": {"N": "0"}, "seat_capacity": {"N": "1000000"}}
    )
    client.put_item(TableName=table, Item={**full, **window, "seats_taken": {"N": "1"}, "seat_capacity": {"N": "1"},
                                           "waitlist": {"BOOL": True}})
    now = {":now": {"N": f"{time.time():.6f}"}}
    stamp = "2023-05-22T07:00:00.000000+00:00"

    def one(i: int) -> None:
        registration_id = f"floor{tag}{i:06d}xxxxxxxxx"[:22]
        fields = _registrant(i, tag)
        item = {
            "pk": pk, "sk": f"REG#{registration_id}", "type": "registration", "registration_id": registration_id,
            "event_id": event.id, "status": "confirmed", "name": fields["name"], "email": fields["email"],
            "language": "nl", "answers": {k: fields[k] for k in ("organisation", "role", "partos_member", "needs")},
            "consent_at": stamp, "registered_at": stamp, "status_changed_at": stamp, "expires_at": 1700000000,
            "email_state": "pending", "notifications": {"registered": {"state": "pending", "at": stamp}},
        }
        guard = {"pk": pk, "sk": f"EMAIL#{i:064d}", "type": "guard", "for_registration": registration_id,
                 "expires_at": 1700000000}
        ops: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": table,
                    "Item": store.serialize(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": store.serialize(guard),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if i < seat_count:
            ops.append({"Update": {
                "TableName": table, "Key": seats, "UpdateExpression": "ADD seats_taken :one",
                "ConditionExpression": "opens_at <= :now AND closes_at > :now "
                                       "AND (attribute_not_exists(seat_capacity) OR seats_taken < seat_capacity)",
                "ExpressionAttributeValues": {":one": {"N": "1"}, **now},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        else:
            ticket = i - seat_count + 1
            if ticket_first:
                client.update_item(TableName=table, Key=full, UpdateExpression="ADD waitlist_seq :one",
                                   ConditionExpression="seats_taken >= seat_capacity",
                                   ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
            ops.append({"Update": {
                "TableName": table, "Key": full, "UpdateExpression": "ADD waitlisted_count :one, #w :one",
                "ConditionExpression": "opens_at <= :now AND closes_at > :now AND waitlist = :true "
                                       "AND seats_taken >= seat_capacity",
                "ExpressionAttributeNames": {"#w": f"w{ticket // 50}"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":true": {"BOOL": True}, **now},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
            ops.append({"Update": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": f"FLOORQ#{ticket // 50}"}},
                                   "UpdateExpression": "SET #t = :r ADD waiting_count :one",
                                   "ExpressionAttributeNames": {"#t": f"t{ticket}"},
                                   "ExpressionAttributeValues": {":one": {"N": "1"}, ":r": {"S": registration_id}}}})
        client.transact_write_items(TransactItems=ops)

    return _released_together(registrants, concurrency, one)


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print each round and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrants", type=int, default=200)
    parser.add_argument("--seats", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=0,
                        help="threads at once (default: one per registrant, all released together)")
    parser.add_argument(
        "--code",
        type=Path,
        default=REPO,
        help="checkout whose chalicelib is measured (default: this one); the stand-in is always this one's",
    )
    args = parser.parse_args(argv)
    concurrency = args.concurrency or args.registrants

    port = _free_port()
    standin = subprocess.Popen([sys.executable, "-m", "benchmarks.standin", str(port)], cwd=REPO,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert standin.stdout is not None and standin.stdout.readline().strip() == "ready"
        _environment(port)
        sys.path.insert(0, str(args.code.resolve()))
        from chalicelib import aws, store
        from chalicelib.events import load_event_file
        from localservice.awsfake import create_table

        create_table(aws.client("dynamodb"), os.environ["TABLE_NAME"])
        calls = Calls()
        aws.client("dynamodb").meta.events.register("before-call.dynamodb", calls.hook)
        retries = Retries(store)
        base = load_event_file(REPO / "events" / "partos-engagement-mobilisatie-2023.yaml")

        print(f"code: {args.code.resolve()}  registrants: {args.registrants}  seats: {args.seats}  "
              f"concurrency: {concurrency}  rounds: {args.rounds}")
        rates: dict[str, list[float]] = {"ours": [], "floor": [], "floor2": []}
        runners = {"ours": run_ours, "floor": run_floor,
                   "floor2": lambda *a: run_floor(*a, ticket_first=True)}
        per_registration: list[Counter[str]] = []
        tries: list[float] = []
        failures: Counter[str] = Counter()
        for round_number in range(args.rounds):
            order = ("ours", "floor", "floor2") if round_number % 2 == 0 else ("floor2", "floor", "ours")
            for kind in order:
                event = base.model_copy(
                    update={"id": f"rush-{round_number}-{kind}", "capacity": args.seats, "waitlist": True}
                )
                store.put_event(event)
                calls.take()
                retries.take()
                runner = runners[kind]
                seconds, results = runner(event, args.registrants, concurrency, f"r{round_number}", args.seats)
                counts = calls.take()
                retried = retries.take()
                rate = args.registrants / seconds
                rates[kind].append(rate)
                line = f"round {round_number + 1} {kind:6}: {seconds:6.2f} s, {rate:6.1f} registrations/s"
                if kind == "ours":
                    statuses = Counter(getattr(r, "status", type(r).__name__) for r in results)
                    failures.update({k: v for k, v in statuses.items() if k not in ("confirmed", "waitlisted")})
                    per_registration.append(counts)
                    tries.append(1 + retried / args.registrants)
                    line += (f", attempts/registration {tries[-1]:.2f}"
                             f", transactions/registration {counts['TransactWriteItems'] / args.registrants:.2f}"
                             f", requests/registration {sum(counts.values()) / args.registrants:.2f}"
                             f", answers {dict(statuses)}")
                print(line, flush=True)

        ours, floor, floor2 = (statistics.median(rates[kind]) for kind in ("ours", "floor", "floor2"))
        attempts = statistics.median(tries)
        transactions = statistics.median(c["TransactWriteItems"] / args.registrants for c in per_registration)
        operations = sorted({op for c in per_registration for op in c})
        by_operation = {
            op: round(statistics.median(c[op] / args.registrants for c in per_registration), 2) for op in operations
        }
        print()
        print(f"median registrations/s: ours {ours:.1f}, floor {floor:.1f}, ratio {ours / floor:.2f}")
        print(f"  against the two-request floor (a bare ticket, then the write, for the waitlisted): "
              f"{floor2:.1f}, ratio {ours / floor2:.2f}")
        print(
            f"median attempts per registration: {attempts:.2f}; transaction writes per registration: {transactions:.2f}"
        )
        print(f"median requests per registration by operation: {by_operation}")
        print(f"answers other than confirmed/waitlisted: {dict(failures) or 'none'}")
    finally:
        if standin.stdin:
            standin.stdin.close()
        standin.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
