"""`make run`'s AWS stand-in answers local tools, never web pages (README, "Quick start", `AWS_PORT`)."""

import json
import urllib.error
import urllib.request

import boto3
import pytest

from localservice.awsfake import REFUSED_BODY, local_moto_server
from tests.live import free_port


@pytest.fixture(scope="module")
def standin():
    port = free_port()
    server = local_moto_server(port)
    server.start()
    yield port
    server.stop()


def _get(url, headers=None, method="GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_boto3_reaches_the_standin(standin, monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    dynamodb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{standin}", region_name="eu-west-1")
    assert dynamodb.list_tables()["TableNames"] == []
    dynamodb_by_name = boto3.client("dynamodb", endpoint_url=f"http://localhost:{standin}", region_name="eu-west-1")
    assert "TableNames" in dynamodb_by_name.list_tables()


def test_the_address_bar_and_the_standins_own_page_still_work(standin):
    url = f"http://127.0.0.1:{standin}/moto-api/data.json"
    status, _, body = _get(url, {"Sec-Fetch-Site": "none"})
    assert status == 200 and isinstance(json.loads(body), dict)
    status, _, _ = _get(url, {"Origin": f"http://127.0.0.1:{standin}", "Sec-Fetch-Site": "same-origin"})
    assert status == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:8000"},  # the API's own page: another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of this machine
    {"Host": "evil.example"},  # DNS rebinding: a page's own name resolving to 127.0.0.1
])
def test_a_web_page_cannot_read_or_write_the_standin(standin, headers):
    status, answer_headers, body = _get(f"http://127.0.0.1:{standin}/moto-api/data.json", headers)
    assert (status, body) == (403, REFUSED_BODY)
    assert not any(name.lower().startswith("access-control-") for name in answer_headers)
    status, answer_headers, _ = _get(f"http://127.0.0.1:{standin}/", {
        **headers, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-amz-target,content-type,authorization"}, method="OPTIONS")
    assert status == 403
    assert not any(name.lower().startswith("access-control-") for name in answer_headers)
