"""Which table and which AWS endpoint the staff tools talk to.

``--stage NAME`` takes the stage's environment variables from ``.chalice/config.json``
(``TABLE_NAME``, ``EXPORT_BUCKET`` if set, ...); ``--table`` overrides the table;
``--local`` is ``make run``'s AWS stand-in: endpoint ``http://127.0.0.1:$AWS_PORT``
(default 5000), fake credentials, stage ``local``; for the ``local`` stage an ``APP_CLOCK`` in the
environment wins over the stage's, as with ``make run``. Credentials otherwise come the usual
boto3 way (``AWS_PROFILE``, environment, SSO), i.e. the staff member's own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
LOCAL_STAGE = "local"
#: ``make run``'s default port of the AWS stand-in (Makefile, ``AWS_PORT ?= 5000``).
DEFAULT_AWS_PORT = "5000"


class ConfigError(ValueError):
    """An unknown stage, or no way to tell which table to use."""


def stage_names(config_path: Path = CHALICE_CONFIG) -> list[str]:
    """The stages defined in ``.chalice/config.json``."""
    return sorted(json.loads(config_path.read_text(encoding="utf-8")).get("stages", {}))


def stage_environment(stage: str, config_path: Path = CHALICE_CONFIG) -> dict[str, str]:
    """The environment variables of ``stage`` (global ones, then the stage's).

    Raises :class:`ConfigError` for a stage the file does not define.
    """
    config = json.loads(config_path.read_text(encoding="utf-8"))
    stages = config.get("stages", {})
    if stage not in stages:
        raise ConfigError(f"unknown stage {stage!r}; .chalice/config.json has {', '.join(sorted(stages))}")
    return {**config.get("environment_variables", {}), **stages[stage].get("environment_variables", {})}


@dataclass
class Target:
    """The environment changes that point boto3 and ``chalicelib`` at one table.

    ``set`` is applied over ``os.environ``, ``unset`` removed from it.
    """

    set: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    description: str = ""
    #: ``--local`` only: the stand-in's endpoint, and how its port was chosen (``AWS_PORT=5100``, or the default).
    local_endpoint: str = ""
    local_port: str = ""

    def unreachable(self) -> str:
        """The one-line message for an endpoint that does not answer (README, "Staff tools")."""
        if not self.local_endpoint:
            return ""
        return (f"Could not reach the local AWS stand-in at {self.local_endpoint} ({self.local_port}): "
                "is make run running? Start it in another terminal, or set AWS_PORT to the port it uses.")


def resolve(stage: str | None, local: bool, table: str | None, aws_port: str | None = None) -> Target:
    """The :class:`Target` for the global options.

    Raises :class:`ConfigError` when neither a stage, ``--local`` nor ``--table`` says which table to use,
    or ``--local`` is combined with a stage other than ``local``.
    """
    if local:
        if stage not in (None, LOCAL_STAGE):
            raise ConfigError("--local is the local stage; leave out --stage or say --stage local")
        port = aws_port or os.environ.get("AWS_PORT") or DEFAULT_AWS_PORT
        if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"AWS_PORT {port!r} is not a port number (1 to 65535): the port make run's "
                              "AWS stand-in uses, e.g. AWS_PORT=5100")
        how = (f"AWS_PORT={port}" if (aws_port or os.environ.get("AWS_PORT"))
               else f"AWS_PORT not set: port {port}, the default")
        env = stage_environment(LOCAL_STAGE)
        env.update(
            STAGE=LOCAL_STAGE,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto's stand-in accepts any key; no secret
            AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
            AWS_REGION=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        )
        target = Target(env, ("AWS_PROFILE", "AWS_SESSION_TOKEN"), f"local stand-in http://127.0.0.1:{port}",
                        local_endpoint=f"http://127.0.0.1:{port}", local_port=how)
    elif stage:
        target = Target(stage_environment(stage), (), f"stage {stage}")
    elif table:
        target = Target({}, (), "")
    else:
        raise ConfigError("say which table: --stage dev|prod (or STAFF_STAGE), --local for make run, or --table NAME")
    if target.set.get("STAGE") == LOCAL_STAGE and "APP_CLOCK" in os.environ:
        # make run's rule: APP_CLOCK in the environment wins over the stage's (empty: the real clock), so
        # the staff tools keep the clock the service was started with (e.g. a door link's expiry).
        target.set["APP_CLOCK"] = os.environ["APP_CLOCK"]
    elif target.local_endpoint:
        # else the running make run's clock, as it reads now (it ran on since APP_CLOCK), so a cancellation
        # after the event's end on the service's clock changes nothing here either (localservice.clockfile)
        from localservice import clockfile

        port_text = target.local_endpoint.rsplit(":", 1)[1]
        running = clockfile.read(int(port_text)) if port_text.isdigit() else None  # a bad AWS_PORT fails on connect
        if running is not None:  # "": the service runs on the real clock (APP_CLOCK=), so do these tools
            target.set["APP_CLOCK"] = running
    if table:
        target.set["TABLE_NAME"] = table
    if os.environ.get("EXPORT_BUCKET"):
        target.set["EXPORT_BUCKET"] = os.environ["EXPORT_BUCKET"]
    target.description = f"table {target.set.get('TABLE_NAME') or os.environ.get('TABLE_NAME', '?')}" + (
        f" ({target.description})" if target.description else ""
    )
    return target


class Applied:
    """Apply a :class:`Target` to ``os.environ``; :meth:`restore` puts the previous values back."""

    def __init__(self, target: Target):
        self._saved: dict[str, str | None] = {}
        for key in list(target.set) + list(target.unset):
            self._saved.setdefault(key, os.environ.get(key))
        for key in target.unset:
            os.environ.pop(key, None)
        os.environ.update(target.set)

    def restore(self) -> None:
        """Undo the changes (for tests that run several commands in one process)."""
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}
