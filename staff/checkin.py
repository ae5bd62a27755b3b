"""Staff commands for check-in at the door (README, "Check-in at the door").

- ``checkin-link EVENT --valid 2d``: a signed, expiring link to the door page of one event
  (``chalicelib.checkin.make_door_token``), printed on stdout; no password to hand around.
- ``registrations checkin EVENT ID [--undo]``: check one registration in (or take it back), the
  same conditional transaction the door page writes (``chalicelib.checkin.check_in_registration``).

:func:`register` adds them to the command groups of ``staff.cli``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any, Callable

import click

from staff import EXIT_NOT_FOUND, EXIT_OK

#: ``--valid``: one or more numbers with a unit, e.g. ``2d``, ``12h``, ``1d12h``, ``90m``.
_DURATION = re.compile(r"(\d+)([dhm])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}


def parse_duration(text: str) -> timedelta:
    """``2d``, ``12h``, ``1d12h``, ``90m`` as a ``timedelta``. Raises ``click.BadParameter`` for
    anything else, for zero, and for more than ``checkin.DOOR_LINK_MAX_SECONDS`` (31 days)."""
    from chalicelib.checkin import DOOR_LINK_MAX_SECONDS

    cleaned = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(number + unit for number, unit in parts) != cleaned:
        raise click.BadParameter(f"{text!r}: say how long, e.g. 2d, 12h, 1d12h or 90m")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds <= 0 or seconds > DOOR_LINK_MAX_SECONDS:
        raise click.BadParameter(f"{text!r}: a door link is valid for 1 minute to 31 days")
    return timedelta(seconds=seconds)


def _base_url(given: str | None, stage_output: Callable[[str], str | None]) -> str:
    """Where the door page is: ``--base-url``, else ``PUBLIC_BASE_URL`` (the stage's), else for the
    local stage ``http://127.0.0.1:$PORT`` (``make run``'s), else the deployed stack's ``ApiUrl``."""
    from chalicelib.settings import get_settings

    settings = get_settings()
    if given:
        return given.rstrip("/")
    if settings.stage == "local":
        return f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    if settings.public_base_url:
        return settings.public_base_url
    found = stage_output("ApiUrl")
    if found:
        return found.rstrip("/")
    raise click.UsageError("no address of the service: give --base-url, or set PUBLIC_BASE_URL")


def _signing_keys_available(stage_output: Callable[[str], str | None]) -> None:
    """Point ``chalicelib.tokens`` at the stage's key: ``TOKEN_KEYS`` (local), ``TOKEN_SECRET_ARN``, or the
    deployed stack's ``TokenSecretArn`` output (the staff policy may read that secret)."""
    if os.environ.get("TOKEN_KEYS") or os.environ.get("TOKEN_SECRET_ARN"):
        return
    arn = stage_output("TokenSecretArn")
    if not arn:
        raise click.UsageError("no signing key: set TOKEN_SECRET_ARN (the stack's TokenSecretArn output)")
    os.environ["TOKEN_SECRET_ARN"] = arn


def register(cli: click.Group, registrations: click.Group, aws_command: Callable[..., Any],
             stack_output: Callable[[str, str], str | None], context: dict[str, Any]) -> None:
    """Add ``checkin-link`` to ``cli`` and ``checkin`` to ``registrations`` (``staff.cli`` calls this)."""

    def stage_output(key: str) -> str | None:
        from chalicelib.settings import get_settings

        return stack_output(f"event-registration-{get_settings().stage}", key)

    @cli.command("checkin-link", context_settings=context)
    @click.argument("event_id", metavar="EVENT")
    @click.option("--valid", "valid", default="2d", show_default=True, metavar="DURATION",
                  callback=lambda _ctx, _param, value: parse_duration(value),
                  help="How long the link works: 2d, 12h, 1d12h, 90m (at most 31d).")
    @click.option("--lang", type=click.Choice(["nl", "en"]), help="Language of the page (default: the phone's).")
    @click.option("--base-url", metavar="URL", help="Address of the service (default: the stage's, or make run's).")
    @aws_command
    def checkin_link(event_id: str, valid: timedelta, lang: str | None, base_url: str | None) -> int:
        """Print a link to the check-in page of one event, for staff at the door.

        Open it on a phone: it scans the QR codes of the registrants' emails with the
        camera, takes a code typed in, and finds people by name or email address. It
        shows name, organisation and status only. The link is signed (HMAC with the
        service's token keys) and expires; anyone who has it can check people in until
        then, so send it only to door staff. To revoke it sooner, retire the signing key
        it names (README, "Check-in at the door"); that also retires the personal links
        and check-in codes that key signed.
        """
        from chalicelib import checkin, clock, store
        from chalicelib.dates import local_timestamp

        event = store.event_definition(event_id)
        url = _base_url(base_url, stage_output)
        _signing_keys_available(stage_output)
        expires_at = clock.now() + valid
        token = checkin.make_door_token(event.id, expires_at)
        click.echo(checkin.door_link(url, event.id, token, lang))
        key_id = token.split(".")[1]
        until = local_timestamp(event, expires_at.replace(microsecond=0), lang or event.default_language)
        click.echo(f"Door link for {event.id}, valid until {until} (signed with key {key_id}). Anyone with it can "
                   f"check people in and see their names: send it only to door staff.", err=True)
        return EXIT_OK

    @registrations.command("checkin", context_settings={**context, "ignore_unknown_options": True})
    @click.argument("event_id", metavar="EVENT")
    @click.argument("registration_id", metavar="ID")
    @click.option("--undo", is_flag=True, help="Take a check-in back (a mistake at the door).")
    @aws_command
    def registrations_checkin(event_id: str, registration_id: str, undo: bool) -> int:
        """Check a registration in at the door, or take it back with --undo.

        Only a confirmed registration can be checked in, once: the write is conditional,
        like a scan at the door. Exit 1 when nothing changed (already checked in, not
        confirmed, or --undo of one that was not checked in). An ID copied from a CSV
        export with its leading ' is accepted as is.
        """
        from chalicelib import checkin, clock, store

        registration_id = registration_id.removeprefix("'")
        event = store.event_definition(event_id)
        result = checkin.check_in_registration(event.id, registration_id, clock.now(), undo=undo)
        person = result.person
        when = person.checked_in_at.astimezone(event.zone).strftime("%Y-%m-%d %H:%M %Z") \
            if person and person.checked_in_at else ""
        messages = {
            "checked_in": f"Checked in registration {registration_id} at {when}.",
            "undone": f"Took back the check-in of registration {registration_id}.",
            "already_checked_in": f"Nothing to do: registration {registration_id} was checked in at {when}.",
            "not_checked_in": f"Nothing to do: registration {registration_id} is not checked in.",
        }
        message = messages.get(result.outcome) or \
            f"Not checked in: registration {registration_id} is {person.status if person else 'unknown'}."
        click.echo(message, err=not result.changed)
        return EXIT_OK if result.changed else EXIT_NOT_FOUND
