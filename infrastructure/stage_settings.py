"""Per-stage deployment settings.

Two sources, so that nothing is written twice:

- the app's own settings (``SENDER_EMAIL``, ``ALLOWED_ORIGINS``,
  ``RETENTION_DAYS``, ``TABLE_NAME``, ``PUBLIC_BASE_URL``) are the stage's
  ``environment_variables`` in ``.chalice/config.json``;
- infrastructure settings (region, throttling, the WAF's per-client limit,
  function memory and reserved concurrency, expiry of exports and logs,
  alarms, data protection, stream tuning) are in ``infrastructure/stages.json``
  (docs/deploy.md, "Settings per stage", explains each and its default).

A few values differ per deployment rather than per stage, so environment
variables override both at synth/deploy time::

    SENDER_EMAIL='Partos Events <events@partos.nl>' make deploy STAGE=prod
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path

APP_NAME = "event-registration"
STAGES_FILE = Path(__file__).resolve().parent / "stages.json"
CHALICE_CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"

#: App environment variable -> settings field, read from .chalice/config.json.
_APP_VARIABLES = {
    "SENDER_EMAIL": "sender_email",
    "ALLOWED_ORIGINS": "allowed_origins",
    "RETENTION_DAYS": "retention_days",
    "TABLE_NAME": "table_name",
    "PUBLIC_BASE_URL": "public_base_url",
}


@dataclass(frozen=True)
class StageSettings:
    """Everything the stack needs to know about one stage."""

    stage: str
    region: str
    sender_email: str
    allowed_origins: tuple[str, ...]
    retention_days: int
    throttle_rate_limit: float
    throttle_burst_limit: int
    export_expiry_days: int
    log_retention_days: int
    protect_data: bool
    stream_batch_size: int
    stream_max_retries: int
    stream_max_record_age_seconds: int
    form_event_id: str
    table_name: str = ""
    public_base_url: str = ""
    alarm_email: str = ""
    #: ``make deploy`` refuses to deploy the stage without ``alarm_email``.
    alarm_email_required: bool = False
    #: AWS WAF rate-based rule: POST requests one client IP may make per
    #: ``waf_rate_window_seconds`` before it gets 429 (AWS allows 10 and up).
    waf_rate_limit: int = 100
    waf_rate_window_seconds: int = 300
    #: Lambda memory in MB (128-10240); CPU is proportional, a full vCPU at 1769.
    api_memory_mb: int = 1024
    deliver_memory_mb: int = 1024
    #: Reserved concurrency of each function; None reserves nothing.
    api_reserved_concurrency: int | None = None
    deliver_reserved_concurrency: int | None = None
    #: RecordEmailEvents (SES's delivery, bounce and complaint events): memory and reserved concurrency.
    feedback_memory_mb: int = 512
    feedback_reserved_concurrency: int | None = None
    #: Alarm thresholds on the stage's SES reputation metrics (fractions: 0.04 is 4%); AWS reviews an
    #: account at about 5% bounces and 0.1% complaints, so both must stay below those.
    bounce_rate_alarm: float = 0.04
    complaint_rate_alarm: float = 0.0008
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        """CloudFormation stack name, e.g. ``event-registration-prod``."""
        return f"{APP_NAME}-{self.stage}"

    @property
    def sender_address(self) -> str:
        """The bare address of ``sender_email`` (``events@example.org``)."""
        address = parseaddr(self.sender_email)[1]
        if "@" not in address:
            raise ValueError(f"sender_email has no address: {self.sender_email!r}")
        return address

    @property
    def sender_domain(self) -> str:
        """The domain part of the sender address (``example.org``)."""
        return self.sender_address.rsplit("@", 1)[1]


_ENV_OVERRIDES = {
    "SENDER_EMAIL": "sender_email",
    "ALLOWED_ORIGINS": "allowed_origins",
    "ALARM_EMAIL": "alarm_email",
    "PUBLIC_BASE_URL": "public_base_url",
    "AWS_REGION": "region",
}


#: Evaluation windows (seconds) AWS WAF accepts for a rate-based rule.
WAF_WINDOWS = (60, 120, 300, 600)
#: Lambda's memory range in MB.
LAMBDA_MEMORY_RANGE = (128, 10240)
#: The bounce and complaint rates at which AWS places an SES account under review (SES Developer
#: Guide, "Amazon SES sending review process"): the alarms must go off before them.
SES_REVIEW_BOUNCE_RATE = 0.05
SES_REVIEW_COMPLAINT_RATE = 0.001


def _check_limits(settings: StageSettings) -> None:
    """Refuse values AWS would refuse at deploy time, with the setting's name.

    Raises ``ValueError``.
    """
    problems = []
    if settings.waf_rate_limit < 10:
        problems.append(f"waf_rate_limit {settings.waf_rate_limit} is below AWS WAF's minimum of 10")
    if settings.waf_rate_window_seconds not in WAF_WINDOWS:
        problems.append(
            f"waf_rate_window_seconds {settings.waf_rate_window_seconds} is not one of {WAF_WINDOWS}"
        )
    low, high = LAMBDA_MEMORY_RANGE
    for name in ("api_memory_mb", "deliver_memory_mb", "feedback_memory_mb"):
        value = getattr(settings, name)
        if not low <= value <= high:
            problems.append(f"{name} {value} is outside Lambda's {low}-{high} MB")
    for name in ("api_reserved_concurrency", "deliver_reserved_concurrency", "feedback_reserved_concurrency"):
        value = getattr(settings, name)
        # 0 would stop the function from running at all.
        if value is not None and value < 1:
            problems.append(f"{name} {value} must be at least 1, or null to reserve nothing")
    for name, review in (("bounce_rate_alarm", SES_REVIEW_BOUNCE_RATE),
                         ("complaint_rate_alarm", SES_REVIEW_COMPLAINT_RATE)):
        value = getattr(settings, name)
        if not 0 < value < review:
            problems.append(f"{name} {value} must be above 0 and below AWS's review level of {review} "
                            f"({review:.1%}), so the alarm comes first")
    if settings.throttle_burst_limit < settings.throttle_rate_limit:
        problems.append("throttle_burst_limit is below throttle_rate_limit")
    if settings.alarm_email and "@" not in settings.alarm_email:
        problems.append(f"alarm_email {settings.alarm_email!r} is not an email address")
    if problems:
        raise ValueError(f"stage {settings.stage!r}: " + "; ".join(problems))


def available_stages(path: Path = STAGES_FILE) -> list[str]:
    """Names of the stages defined in ``stages.json``."""
    data = json.loads(path.read_text())
    return sorted(k for k in data if not k.startswith("_"))


def chalice_stage_environment(stage: str, path: Path = CHALICE_CONFIG) -> dict[str, str]:
    """The environment variables ``.chalice/config.json`` gives ``stage``."""
    if not path.exists():
        return {}
    config = json.loads(path.read_text())
    return {
        **config.get("environment_variables", {}),
        **config.get("stages", {}).get(stage, {}).get("environment_variables", {}),
    }


def load_settings(
    stage: str,
    environ: Mapping[str, str] | None = None,
    path: Path = STAGES_FILE,
    chalice_config: Path = CHALICE_CONFIG,
) -> StageSettings:
    """Return the settings of ``stage``, with environment overrides applied."""
    environ = os.environ if environ is None else environ
    data = json.loads(path.read_text())
    if stage.startswith("_") or stage not in data:
        raise KeyError(
            f"unknown stage {stage!r}; defined stages: {', '.join(available_stages(path))}"
        )
    raw = dict(data[stage])
    app_env = chalice_stage_environment(stage, chalice_config)
    for variable, key in _APP_VARIABLES.items():
        if variable in app_env:
            raw[key] = app_env[variable]
    for env_name, key in _ENV_OVERRIDES.items():
        value = environ.get(env_name)
        if value:
            raw[key] = value
    if isinstance(raw.get("allowed_origins"), str):
        raw["allowed_origins"] = [
            o.strip() for o in raw["allowed_origins"].split(",") if o.strip()
        ]
    raw["allowed_origins"] = tuple(raw.get("allowed_origins", ()))
    raw["retention_days"] = int(raw.get("retention_days", 0))
    raw.setdefault("table_name", f"{APP_NAME}-{stage}")
    missing = [k for k in ("sender_email", "retention_days") if not raw.get(k)]
    if missing:
        raise ValueError(
            f"stage {stage!r}: {', '.join(missing)} not set (environment_variables of the "
            f"stage in {chalice_config})"
        )
    known = {f.name for f in fields(StageSettings)}
    extra = {k: v for k, v in raw.items() if k not in known}
    kwargs = {k: v for k, v in raw.items() if k in known}
    settings = StageSettings(stage=stage, extra=extra, **kwargs)
    _ = settings.sender_address  # validate early
    _check_limits(settings)
    return settings


def alarm_email_problem(settings: StageSettings) -> str | None:
    """Why ``make deploy`` must not deploy this stage yet, or ``None``.

    A stage with ``alarm_email_required`` (prod) needs an address for the
    alarm topic's email subscription, so that alarms reach someone.
    Synthesis does not need one (the tests synthesise prod without it).
    """
    if not settings.alarm_email_required or settings.alarm_email:
        return None
    return (
        f"STAGE={settings.stage} needs an alarm email: alarms (API 5xx, function errors, failed "
        "email batches) go to an SNS topic, and nobody would hear of them. Set it for this "
        f"deploy with\n\n    ALARM_EMAIL=ops@example.org make deploy STAGE={settings.stage}\n\n"
        f'or for good as "alarm_email" of "{settings.stage}" in infrastructure/stages.json. '
        "AWS then emails that address a link to confirm the subscription: click it."
    )


def main(argv: list[str] | None = None) -> int:
    """``python stage_settings.py STAGE``: validate a stage and show its settings."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: stage_settings.py STAGE", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args[0])
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"STAGE={args[0]}: {message}", file=sys.stderr)
        return 2
    print(f"Stage {settings.stage}: stack {settings.stack_name} in {settings.region}")
    print(f"  sender {settings.sender_email}; origins {', '.join(settings.allowed_origins)}")
    print(
        f"  retention {settings.retention_days} days after the event; throttling "
        f"{settings.throttle_rate_limit} req/s (burst {settings.throttle_burst_limit}); "
        f"data protected: {settings.protect_data}"
    )
    print(
        f"  WAF: {settings.waf_rate_limit} POST requests per client IP per "
        f"{settings.waf_rate_window_seconds} s; memory API {settings.api_memory_mb} MB, "
        f"DeliverEmails {settings.deliver_memory_mb} MB; reserved concurrency API "
        f"{settings.api_reserved_concurrency}, DeliverEmails {settings.deliver_reserved_concurrency}"
    )
    print(f"  alarm email: {settings.alarm_email or '(none)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
