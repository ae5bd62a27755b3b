"""The Lambda package the stack deploys: trimmed, compiled, and still working.

The package under test is the asset the synthesised stack points its
functions at (``cdk.out/<stage>/asset.<hash>.zip``), so these tests also
catch a Chalice upgrade that bypasses ``PackagedChalice``'s hook.
"""
from __future__ import annotations

import email
import email.policy
import email.utils
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import lambda_import
import lambda_package
import pytest

#: Issue 11's goal for the zip with bytecode (without: 5 MB).
MAX_ZIP_BYTES_WITH_BYTECODE = 8_000_000


def _asset_zip(t) -> Path:
    """The deployment zip both functions of a synthesised stack use."""
    keys = {f["Properties"]["CodeUri"]["Key"] for f in t.of_type("AWS::Serverless::Function").values()}
    assert len(keys) == 1, keys
    path = t.template_path.parent / f"asset.{keys.pop()}"
    assert path.is_file(), f"no asset {path}"
    return path


@pytest.fixture(scope="module")
def prod_package(prod) -> Path:
    return _asset_zip(prod)


@pytest.fixture(scope="module")
def unzipped(prod_package, tmp_path_factory) -> Path:
    """The prod package unzipped, read-only like /var/task."""
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(prod_package) as archive:
        archive.extractall(target)
    for folder, _dirs, files in os.walk(target):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    return target


# -- what is in the zip ---------------------------------------------------------


def test_languages_come_from_the_event_model():
    assert lambda_package.supported_languages() == ("nl", "en")


@pytest.mark.parametrize(
    "name, kept",
    [
        ("babel/locale-data/nl.dat", True),
        ("babel/locale-data/en.dat", True),
        ("babel/locale-data/root.dat", True),
        ("babel/global.dat", True),
        ("babel/locale-data/en_GB.dat", False),
        ("babel/locale-data/nl_BE.dat", False),
        ("babel/locale-data/de.dat", False),
        ("yaml/__init__.py", False),
        ("dns/resolver.py", False),
        ("icalendar/tests/test_time.py", False),
        ("aws_lambda_powertools/event_handler/api_gateway.py", False),
        ("aws_lambda_powertools/logging/logger.py", True),
        ("aws_lambda_powertools/utilities/batch/base.py", True),
        ("aws_lambda_powertools/utilities/parser/models/dynamodb.py", True),
        ("email_validator/__init__.py", True),
        ("chalicelib/entry_deliver.py", True),
        ("segno/writers.py", True),
        ("segno/encoder.py", True),
        ("segno/cli.py", False),
        ("segno/helpers.py", False),
        ("segno-1.6.6.data/data/share/man/man1/segno.1", False),
        ("chalicelib/entry_jobs.py", True),
        ("app.py", True),
        ("pydantic_core/_pydantic_core/__init__.pyi", False),
        ("markupsafe/_speedups.c", False),
        ("tzdata/zoneinfo/zone1970.tab", False),
        ("tzdata/zoneinfo/tzdata.zi", False),
        ("tzdata/zoneinfo/Europe/Amsterdam", True),  # the binary zone zoneinfo reads
        ("tzdata/zones", True),  # zoneinfo.available_timezones()
    ],
)
def test_trim_rules(name, kept):
    assert (lambda_package.trim_reason(name, ("nl", "en")) is None) is kept


def test_rebuild_compiles_unchecked_hash_pycs_deterministically(tmp_path):
    source = tmp_path / "deployment.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("app.py", "X = 1\n")
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("yaml/__init__.py", "raise ImportError\n")
        archive.writestr("babel/locale-data/de.dat", b"\0" * 1000)
    copy = tmp_path / "again.zip"
    copy.write_bytes(source.read_bytes())
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "logo.svg").write_text("<svg/>")
    (assets / "notes.txt").write_text("not a logo")
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    report = lambda_package.rebuild(source, runtime, event_assets=assets)
    lambda_package.rebuild(copy, runtime, event_assets=assets)
    assert source.read_bytes() == copy.read_bytes(), "same input, same zip (same CDK asset hash)"
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(source) as archive:
        names = sorted(archive.namelist())
        pyc = archive.read(f"__pycache__/app.{tag}.pyc")
    assert names == [f"__pycache__/app.{tag}.pyc", "app.py", "events/assets/logo.svg", "pkg/__init__.py",
                     f"pkg/__pycache__/__init__.{tag}.pyc"]
    assert pyc[:4] == importlib.util.MAGIC_NUMBER
    # PEP 552 flags: 0b01 = hash-based, source not checked.
    assert int.from_bytes(pyc[4:8], "little") == 0b01
    assert (report.py_files, report.pyc_files) == (2, 2)


def test_rebuild_refuses_bytecode_for_another_python(tmp_path):
    source = tmp_path / "deployment.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("app.py", "X = 1\n")
    with pytest.raises(ValueError, match=r"python3.99"):
        lambda_package.rebuild(source, "python3.99")


def test_deployed_package_is_trimmed_and_compiled(prod_package):
    with zipfile.ZipFile(prod_package) as archive:
        names = archive.namelist()
    tag = sys.implementation.cache_tag
    py = [n for n in names if n.endswith(".py")]
    pyc = {n for n in names if n.endswith(".pyc")}
    assert f"__pycache__/app.{tag}.pyc" in pyc
    assert f"chalicelib/__pycache__/entry_deliver.{tag}.pyc" in pyc
    assert f"chalicelib/__pycache__/entry_jobs.{tag}.pyc" in pyc
    missing = [n for n in py if lambda_package.pyc_name(n, tag) not in pyc]
    assert missing == []
    locales = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("babel/locale-data/"))
    assert locales == ["en.dat", "nl.dat", "root.dat"]
    for trimmed in ("yaml/", "dns/", "icalendar/tests/", "aws_lambda_powertools/event_handler/"):
        assert not any(n.startswith(trimmed) for n in names), trimmed
    assert prod_package.stat().st_size <= MAX_ZIP_BYTES_WITH_BYTECODE
    assert "events/assets/partos-placeholder.svg" in names  # the seed's logo, served by /static/assets/
    # the door page's QR decoder, copied from the pinned npm package by make vendored (README, "Check-in at the door")
    assert "chalicelib/templates/static/vendor/jsQR.js" in names, "run make vendored before synthesising"
    assert "chalicelib/templates/static/vendor/jsQR.LICENSE.txt" in names
    assert f"segno/__pycache__/__init__.{tag}.pyc" in pyc  # QR codes in the emails


# -- the trimmed package runs ----------------------------------------------------


def _lambda_context() -> str:
    return (
        "class Context:\n"
        "    function_name = 'event-registration-test'\n"
        "    memory_limit_in_mb = 1024\n"
        "    invoked_function_arn = 'arn:aws:lambda:eu-west-1:123456789012:function:x'\n"
        "    aws_request_id = 'request-1'\n"
    )


API_CALLS = _lambda_context() + r'''
import json, sys
import app

def call(method, resource, path, params, body=None, headers=None):
    event = {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com", **(headers or {})},
        "multiValueHeaders": None, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": params, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": "/api" + path,
                           "stage": "api", "requestId": "r1"},
        "body": body, "isBase64Encoded": False,
    }
    return app.app(event, Context())

event_id = sys.argv[1]
answers = {}
for language in ("nl", "en"):
    answers["form_" + language] = call(
        "GET", "/events/{event_id}/register", f"/events/{event_id}/register", {"event_id": event_id},
        headers={"Accept-Language": language})
answers["logo"] = call("GET", "/static/assets/{name}", "/static/assets/partos-placeholder.svg",
                       {"name": "partos-placeholder.svg"})
answers["door"] = call("GET", "/events/{event_id}/door", f"/events/{event_id}/door", {"event_id": event_id})
answers["scanner"] = call("GET", "/static/vendor/{name}", "/static/vendor/jsQR.js", {"name": "jsQR.js"})
answers["register"] = call(
    "POST", "/events/{event_id}/registrations", f"/events/{event_id}/registrations",
    {"event_id": event_id}, body=sys.argv[2], headers={"Content-Type": "application/json"})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("yaml", "dns"))
print(json.dumps({"answers": answers, "unshipped_imports": loaded}))
'''

DELIVER_CALL = _lambda_context() + r'''
import json, sys
from chalicelib import entry_deliver
imported = sorted(m for m in sys.modules
                  if m.split(".")[0] in ("app", "chalice") or m in ("chalicelib.pages", "chalicelib.openapi"))
event = json.loads(sys.stdin.read())
result = entry_deliver.handler(event, Context())
print(json.dumps({"result": result, "imported_before_call": imported}))
'''

JOBS_CALL = _lambda_context() + r'''
import json, sys
from chalicelib import entry_jobs
result = entry_jobs.handler({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, Context())
imported = sorted(m for m in sys.modules if m.split(".")[0] in ("app", "chalice", "yaml"))
print(json.dumps({"result": result, "imported": imported}))
'''

FEEDBACK_CALL = _lambda_context() + r'''
import json, sys
from chalicelib import entry_feedback
imported = sorted(m for m in sys.modules
                  if m.split(".")[0] in ("app", "chalice") or m in ("chalicelib.pages", "chalicelib.openapi"))
result = entry_feedback.handler(json.loads(sys.stdin.read()), Context())
print(json.dumps({"result": result, "imported_before_call": imported}))
'''


@pytest.fixture
def moto_server(monkeypatch):
    """A moto server in this process; the package runs in child processes against it."""
    from moto.server import ThreadedMotoServer

    from chalicelib import aws

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
        "STAGE": "local", "TABLE_NAME": "package-test", "SENDER_EMAIL": "Partos Events <events@partos.example.org>",
        "PUBLIC_BASE_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/api",
        "ALLOWED_ORIGINS": "https://www.partos.nl", "TOKEN_KEYS": "k1:package-test-key",
        "APP_CLOCK": "2023-05-22T09:00:00+02:00", "RETENTION_DAYS": "30",
        "POWERTOOLS_SERVICE_NAME": "event-registration",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    try:
        yield env
    finally:
        aws.reset_clients()
        server.stop()


def _run(unzipped: Path, runtime: Path, code: str, *args: str, stdin: str = "", env: dict) -> dict:
    completed = subprocess.run(
        [*lambda_import.command(unzipped, runtime, code), *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_trimmed_package_registers_renders_and_delivers(unzipped, moto_server, tmp_path):
    """Imports the unzipped package as Lambda does and runs a registration end to end.

    The form page in nl and en (Babel dates, Jinja2), a JSON registration,
    then DeliverEmails through its own entry (icalendar invite, SES via moto):
    every code path that needs a library the trimming touched.
    """
    from chalicelib import aws, store
    from chalicelib.events import load_event_file
    from localservice.awsfake import create_table, verify_sender
    from localservice.stream import StreamPump
    from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, sent_messages

    # GIVEN the table, a verified sender and the seed event on the moto server
    create_table(aws.client("dynamodb"), moto_server["TABLE_NAME"])
    verify_sender(aws.client("sesv2"), moto_server["SENDER_EMAIL"])
    store.put_event(load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml"))
    runtime = lambda_import.make_runtime_dir(tmp_path / "runtime")
    env = {**os.environ}

    # WHEN the API function's package serves the form and a registration
    body = json.dumps(partos_registration(email="package@example.org", language="en"))
    api = _run(unzipped, runtime, API_CALLS, SEED_EVENT_ID, body, env=env)

    # THEN the pages are localised and the registration is stored
    answers = api["answers"]
    assert answers["form_nl"]["statusCode"] == 200
    assert "maandag 5 juni 2023, 14:00-17:00 CEST" in answers["form_nl"]["body"]
    assert answers["form_en"]["statusCode"] == 200
    assert "Monday, June 5, 2023, 14:00-17:00 CEST" in answers["form_en"]["body"]
    assert answers["logo"]["statusCode"] == 200 and answers["logo"]["body"].startswith("<svg")  # packaged events/assets
    assert answers["door"]["statusCode"] == 200 and "../../static/vendor/jsQR.js" in answers["door"]["body"]
    assert answers["scanner"]["statusCode"] == 200 and "jsQR" in answers["scanner"]["body"][:2000]
    assert answers["register"]["statusCode"] == 201, answers["register"]
    registration = json.loads(answers["register"]["body"])
    assert registration["status"] == "confirmed"
    assert api["unshipped_imports"] == []

    # WHEN DeliverEmails gets the stream records, through its own entry module
    delivered = []

    def deliver(event, context):
        answer = _run(unzipped, runtime, DELIVER_CALL, stdin=json.dumps(event, default=str), env=env)
        delivered.append(answer)
        return answer["result"]

    assert StreamPump(moto_server["TABLE_NAME"], deliver).pump_once() > 0

    # THEN it imported neither app.py nor Chalice nor the page templates, and sent the email
    assert delivered[0]["imported_before_call"] == []
    assert delivered[0]["result"] == {"batchItemFailures": []}
    # moto lists the send's Destination and then the To header's address: one recipient, named twice
    mails = [m for m in sent_messages()
             if {email.utils.parseaddr(d)[1] for d in m.destinations} == {"package@example.org"}]
    assert len(mails) == 1
    message = email.message_from_string(mails[0].raw_data, policy=email.policy.default)
    (invite,) = [part for part in message.walk() if part.get_filename() == "invite.ics"]
    assert "DTSTART;TZID=Europe/Amsterdam:20230605T140000" in invite.get_content().decode("utf-8")  # application/ics
    (qr,) = [part for part in message.walk() if part.get_content_type() == "image/png"]  # segno, in the package
    assert qr.get_content().startswith(b"\x89PNG") and qr["Content-ID"]

    # WHEN the scheduled RunDueJobs runs from the package (the workshop's cutoff is two weeks away)
    jobs = _run(unzipped, runtime, JOBS_CALL, env=env)
    # THEN it finds nothing due, through its own entry (no app.py, Chalice or YAML)
    assert jobs == {"result": {"done": [], "unfinished": []}, "imported": []}

    # WHEN RecordEmailEvents gets SES's bounce of that email, through its own entry module
    from chalicelib import feedback

    bounce = feedback.simulated_event(mails[0].id, "package@example.org", "bounce")
    recorded = _run(unzipped, runtime, FEEDBACK_CALL, stdin=json.dumps(bounce), env=env)

    # THEN it imported neither app.py nor Chalice, and the registration shows the bounce
    assert recorded == {"result": {"result": "recorded", "outcome": "bounced"}, "imported_before_call": []}
    stored = store.get_registration_in_event(SEED_EVENT_ID, registration["registration_id"])
    assert stored["email_outcome"] == "bounced"
