"""``make run``: the whole service on this machine, no AWS account, no Docker.

- moto in-process on ``127.0.0.1:$AWS_PORT`` (default 5000) stands in for
  DynamoDB, DynamoDB Streams, SES and S3, so the staff tools can reach it too;
- the API on ``http://127.0.0.1:$PORT`` (default 8000), served the way
  ``chalice local`` serves it, with the ``local`` stage's settings, and what it cannot serve
  (unknown routes, malformed framing) answered as deployed (:mod:`localservice.gateway`);
- every ``events/*.yaml`` loaded (a bad file stops the start with file, field, reason), and the form of
  every event in the table, kept ones too, printed in the banner;
- a poller feeding the table's stream records to ``DeliverEmails``;
- the scheduled ``RunDueJobs`` function called every 10 seconds (``SCHEDULE_SECONDS``)
  on the service's clock (:mod:`localservice.schedule`);
- every email SES accepts written to ``outbox/`` (``$OUTBOX``) as ``.eml``; mail to SES's
  mailbox simulator addresses gets the events SES would publish, fed to ``RecordEmailEvents``
  (:mod:`localservice.mailbox`);
- the clock pinned by ``APP_CLOCK`` (``APP_CLOCK=`` for the real clock);
- the data kept across restarts in ``.local-state/`` (``$LOCAL_STATE``; ``FRESH=1``
  starts empty), see :mod:`localservice.state`;
- no link token in any line it prints (:mod:`localservice.redact`).

The ``local`` stage's variables come from ``.chalice/config.json``; the ones in
:data:`USER_SETTINGS` may be overridden from the environment (``ALLOWED_ORIGINS``
for a test page on another port, ``MIN_FILL_SECONDS=0`` for quick browser tests).

Ctrl-C (or SIGTERM) stops it, after the last emails are written and the data saved; so does
the end of the process that started it (``make run`` whose ``make`` alone got the SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from localservice.state import Loaded

ROOT = Path(__file__).resolve().parent.parent

#: Settings an environment variable may set over the ``local`` stage's value in ``.chalice/config.json``.
USER_SETTINGS = ("ALLOWED_ORIGINS", "FRAME_ANCESTORS", "MIN_FILL_SECONDS")


def _prepare_environment(aws_port: int) -> str | None:
    user_clock = os.environ.get("APP_CLOCK")
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{aws_port}",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - a dummy key: the AWS stand-in (moto) checks none
        AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        AWS_REGION=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "eu-west-1")),
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    return user_clock


def _apply_settings(stage: dict[str, str], user_clock: str | None, user_settings: dict[str, str], port: int) -> None:
    """The local stage's environment variables, then what the developer set (``APP_CLOCK``,
    :data:`USER_SETTINGS`); the CORS origins and link base are this service's own address on ``port``."""
    os.environ.update(stage)
    if user_clock is not None:
        os.environ["APP_CLOCK"] = user_clock
    if "ALLOWED_ORIGINS" not in user_settings:  # the local stage's origins are make run's own page, on its port
        os.environ["ALLOWED_ORIGINS"] = f"http://127.0.0.1:{port},http://localhost:{port}"
    os.environ.update(user_settings)
    os.environ["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"


def _port_taken(port: int) -> bool:
    """Whether something already listens on ``127.0.0.1:port``."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


#: How many ports above a busy one :func:`free_port_after` tries.
PORTS_TRIED = 100


def free_port_after(number: int, avoid: set[int]) -> int | None:
    """The first port above ``number`` (up to :data:`PORTS_TRIED` of them, at most 65535) that is free on
    127.0.0.1 now and not in ``avoid`` (the other port the service was given); ``None`` if there is none."""
    for candidate in range(number + 1, min(number + PORTS_TRIED, 65535) + 1):
        if candidate not in avoid and not _port_taken(candidate):
            return candidate
    return None


def main() -> int:
    """Start everything, print the banner, serve until Ctrl-C or SIGTERM; returns the exit code.

    Exit codes: 0 stopped cleanly; 1 the data could not be saved on stop; 2 refused to
    start (a port in use, an invalid event file, ``.local-state/`` in use or unreadable).
    """
    from localservice import redact

    redact.install()  # before any logging handler keeps a reference to the unfiltered streams
    port = int(os.environ.get("PORT", "8000"))
    aws_port = int(os.environ.get("AWS_PORT", "5000"))
    for name, number in (("PORT", port), ("AWS_PORT", aws_port)):
        if _port_taken(number):
            free = free_port_after(number, avoid={port, aws_port})
            # the command to paste: with the other port as it was given, so that it is kept
            given = {"PORT": port, "AWS_PORT": aws_port, name: free}
            command = " ".join(f"{k}={v}" for k, v in given.items() if k == name or k in os.environ)
            print(f"Refusing to start: port {number} ({name}) is in use on 127.0.0.1. Stop what uses it, or "
                  + (f"choose another, e.g. {command} make run" if free else "choose another free port."),
                  file=sys.stderr)
            return 2
    outbox = Path(os.environ.get("OUTBOX", ROOT / "outbox"))
    events_dir = Path(os.environ.get("EVENTS_DIR", ROOT / "events"))
    state_dir = Path(os.environ.get("LOCAL_STATE") or ROOT / ".local-state")
    fresh = os.environ.get("FRESH", "").strip().lower() not in ("", "0", "no", "false")
    user_clock = _prepare_environment(aws_port)
    user_settings = {name: os.environ[name] for name in USER_SETTINGS if name in os.environ}

    from chalice.cli.factory import CLIFactory
    from chalice.local import create_local_server

    from chalicelib import aws, clock, lifecycle, store
    from chalicelib.events import EventFileError, load_event_dir
    from localservice import clockfile, gateway
    from localservice.awsfake import (
        create_configuration_set,
        create_table,
        local_moto_server,
        serialize_dynamodb,
        verify_sender,
    )
    from localservice.mailbox import MailboxSimulator
    from localservice.outbox import OutboxWriter
    from localservice.schedule import EVERY_SECONDS, ScheduleRunner
    from localservice.state import LocalState, StateError
    from localservice.stream import StreamPump

    try:
        events = load_event_dir(events_dir)
    except EventFileError as error:
        print(f"Refusing to start: an event file is invalid.\n{error}", file=sys.stderr)
        return 2

    factory = CLIFactory(str(ROOT), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name="local")
    app = config.chalice_app  # loading the app applies the stage's environment variables; overrides follow
    _apply_settings(config.environment_variables, user_clock, user_settings, port)
    settings_table = os.environ["TABLE_NAME"]
    clock_origin = os.environ.get("APP_CLOCK") or None

    state = LocalState(state_dir, settings_table, os.environ["AWS_REGION"])
    try:
        state.lock()
        set_aside = state.set_aside() if fresh else False
        saved = None if fresh else state.read()
    except StateError as error:
        print(f"Refusing to start: {error}", file=sys.stderr)
        return 2
    resumed_clock = None
    if saved and clock_origin and (saved.get("clock") or {}).get("origin") == clock_origin and saved["clock"].get("at"):
        resumed_clock = os.environ["APP_CLOCK"] = saved["clock"]["at"]  # the pinned clock runs on, never back

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    serialize_dynamodb()
    moto = local_moto_server(aws_port)
    moto.start()

    create_table(aws.client("dynamodb"), settings_table)
    verify_sender(aws.client("sesv2"), os.environ["SENDER_EMAIL"])
    create_configuration_set(aws.client("sesv2"), os.environ.get("SES_CONFIGURATION_SET", ""))
    pump = StreamPump(settings_table, _app_function(app, "DeliverEmails"))
    loaded = None
    if saved:
        loaded, undelivered = state.load(saved)
        pump.skip_to_end()  # loading wrote a stream record per item: those emails were sent or are undelivered
        pump.replay(undelivered)
    for event in events:  # the file wins over a saved definition; the seat counters are kept
        store.put_event(event)
        if loaded:  # as staff events put does: a capacity raised in the file while stopped, a changed time or place
            lifecycle.fill_free_seats(event.id)
            lifecycle.announce_schedule(event.id)  # nothing is served yet: no registration can be in flight
            lifecycle.keep_retention(event.id)

    stop = threading.Event()
    writer = OutboxWriter(outbox)
    schedule = ScheduleRunner(_app_function(app, "RunDueJobs"), os.environ["AWS_REGION"],
                              float(os.environ.get("SCHEDULE_SECONDS") or EVERY_SECONDS))
    simulator = MailboxSimulator(_app_function(app, "RecordEmailEvents"))

    def background() -> None:
        while not stop.is_set():
            try:
                schedule.run_if_due()  # its writes reach the outbox through the stream, below
                if pump.pump_once():
                    state.changed()
                writer.write_new()
                if simulator.feed_new():
                    state.changed()
                state.save_if_due(pump, clock_origin)
            except Exception as error:  # keep the local service up; show what went wrong
                print(f"[local] stream/outbox poll failed: {type(error).__name__}: {error}", file=sys.stderr)
            stop.wait(0.5)

    worker = threading.Thread(target=background, name="stream-poller", daemon=True)
    worker.start()

    from chalice.local import ThreadedHTTPServer

    # Browsers and load tests open many connections at once; socketserver's default backlog is 5.
    ThreadedHTTPServer.request_queue_size = 128
    server = create_local_server(app, config, "127.0.0.1", port)
    gateway.install(server, app, config)  # unknown routes, any method, bad framing: answered as deployed
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    clock_line = _clock_line(clock_origin, resumed=bool(resumed_clock))
    print(
        "\n".join(
            [
                "",
                "Event registration, local service",
                f"  API:          http://127.0.0.1:{port}",
                *[f"  Form:         http://127.0.0.1:{port}/events/{event_id}/register" for event_id in _event_ids()],
                f"  AWS stand-in: http://127.0.0.1:{aws_port} (moto: DynamoDB table {settings_table}, SES, S3)",
                f"  Outbox:       {outbox}/ (one .eml per email)",
                *_data_lines(state_dir, fresh, set_aside, loaded),
                f"  {clock_line}",
                f"  Staff tools:  {staff_command(aws_port, port)}",
                "Press Ctrl-C to stop.",
                "",
            ]
        ),
        flush=True,
    )
    try:  # for the staff tools (--local): this service's clock, pinned or real
        clockfile.withdraw(aws_port)
        if os.environ.get("APP_CLOCK"):
            clockfile.publish(aws_port, clock.now().astimezone(clock.pinned_start_zone(os.environ["APP_CLOCK"])))
        else:  # APP_CLOCK= : the real clock, which the staff tools must use too (not the stage's pinned one)
            clockfile.publish(aws_port, None)
    except OSError as error:
        print(f"[local] the staff tools will not see this clock: {error}", file=sys.stderr)
    code = 0
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        _ignore_stop_signals()  # a second Ctrl-C must not cut the stop short
        print("\nStopping.", flush=True)
    finally:
        _ignore_stop_signals()  # a second Ctrl-C must not cut the save short
        stop.set()
        worker.join(timeout=5)
        try:
            pump.pump_once()  # the last writes' emails
            writer.write_new()
            simulator.feed_new()
        except Exception as error:
            print(f"[local] last stream/outbox poll failed: {type(error).__name__}: {error}", file=sys.stderr)
        try:
            state.save(pump, clock_origin)
            print(f"Saved the data to {_shown(state_dir)}/ (FRESH=1 make run starts empty).", flush=True)
        except Exception as error:
            print(f"[local] could not save the data to {_shown(state_dir)}/: {type(error).__name__}: {error}",
                  file=sys.stderr)
            code = 1
        with contextlib.suppress(OSError):
            clockfile.withdraw(aws_port)
        server.server.server_close()
        moto.stop()
    return code


def _event_ids() -> list[str]:
    """The id of every event in the table, by id: the files of ``events/`` and those kept in the saved data
    (published with ``staff events put``, or from a file since deleted), as ``staff events list`` lists them."""
    from chalicelib import store

    return [store.event_from_item(item).id for item in store.list_event_items()]


def _clock_line(clock_origin: str | None, *, resumed: bool) -> str:
    """The banner's line on the clock: real time, or the pinned ``APP_CLOCK`` (read now) and whether the
    saved data's clock ran on (``resumed``) from where it was left."""
    from chalicelib import clock

    if not os.environ.get("APP_CLOCK"):
        return "Clock: real time (APP_CLOCK is empty)."
    start = clock.now().astimezone(clock.pinned_start_zone(os.environ["APP_CLOCK"]))
    if resumed:
        return (f"Clock: runs on from {start.isoformat(timespec='seconds')}, where the saved data left it "
                f"(APP_CLOCK {clock_origin}), at real speed.")
    return f"Clock: starts at {start.isoformat(timespec='seconds')} (APP_CLOCK) and runs on at real speed."


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (as a user would type it)."""
    absolute = os.path.abspath(path)  # not resolve(): .venv/bin/python is a symlink to the system's Python
    try:
        return str(Path(absolute).relative_to(os.getcwd()))
    except ValueError:
        return absolute


def staff_command(aws_port: int, port: int = 8000) -> str:
    """The staff tools' command line that reaches this service's AWS stand-in, as one can paste it.

    ``python -m staff --local`` talks to ``127.0.0.1:$AWS_PORT`` (default 5000,
    README "Staff tools"), so another port is given in front, and so is another API ``port`` than
    8000 (``PORT``: the links ``checkin-link`` prints point at it); the interpreter is
    this one (the project's ``.venv``), which has the staff tools' packages.
    """
    prefix = "" if port == 8000 else f"PORT={port} "
    prefix += "" if aws_port == 5000 else f"AWS_PORT={aws_port} "
    return f"{prefix}{_shown(Path(sys.executable))} -m staff --local events list"


def _data_lines(state_dir: Path, fresh: bool, set_aside: bool, loaded: Loaded | None) -> list[str]:
    """The banner's lines on the kept data: what this start loaded, and where it is saved."""
    from localservice.state import SAVE_AFTER_SECONDS

    where = _shown(state_dir)
    if loaded is not None:
        first = (f"  Data:         loaded {_count(loaded.registrations, 'registration')}, "
                 f"{_count(loaded.events, 'event')}, {_count(loaded.export_files, 'export file')} "
                 f"from {where}/ (saved {loaded.saved_at})")
        if loaded.emails_pending:
            first += f"; {_count(loaded.emails_pending, 'email')} still to send"
    elif fresh:
        first = "  Data:         started empty (FRESH=1)" + (f"; the last save is kept in {where}/previous/"
                                                            if set_aside else "")
    else:
        first = f"  Data:         started empty (nothing saved in {where}/ yet)"
    return [first, f"                kept across restarts: saved to {where}/ on stop and within "
                   f"{SAVE_AFTER_SECONDS:g} s of a change; FRESH=1 make run starts empty"]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:  # the signal handler's signature
    """SIGTERM stops the service like Ctrl-C: the last emails are still delivered and written.

    A second SIGTERM (make passes one on to its child as well) or Ctrl-C is ignored from here on: it
    came during the stop's "Stopping." and ended it with a traceback."""
    _ignore_stop_signals()
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    """Ignore Ctrl-C and SIGTERM from here on: the stop (last emails, the data saved) runs to its end."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.SIG_IGN)


def _stop_when_orphaned(parent: int, interval: float = 1.0) -> None:
    """Stop the service (a SIGTERM to itself, so as on Ctrl-C) once the process that started it is gone.

    ``make run`` sent a SIGTERM (``kill <pid of make>``) dies without passing the signal on, and the
    service ran on without a terminal, holding its ports. ``parent`` is the pid of the starting
    process; every ``interval`` seconds the parent is looked up again (an orphan's changes).
    """
    while os.getppid() == parent:
        time.sleep(interval)
    print(f"[local] the process that started this service ({parent}) is gone: stopping.", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


def _app_function(app: Any, name: str) -> Callable[[dict[str, Any], Any], Any]:
    """The handler of the Lambda function ``name`` registered on the Chalice app (``DeliverEmails``,
    ``RunDueJobs``, ``RecordEmailEvents``)."""
    try:
        handler: Callable[[dict[str, Any], Any], Any] = app.handler_map[name]
    except KeyError:
        raise RuntimeError(f"app.py has no {name} function") from None
    return handler


if __name__ == "__main__":
    sys.exit(main())
