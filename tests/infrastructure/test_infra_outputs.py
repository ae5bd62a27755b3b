"""``make deploy`` prints the API and form URLs from the CDK outputs file."""
from __future__ import annotations

import json

import outputs

API = "https://abc123.execute-api.eu-west-1.amazonaws.com/api"


def test_prints_api_and_form_url(tmp_path, capsys, monkeypatch):
    for name in ("SENDER_EMAIL", "ALLOWED_ORIGINS", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALARM_EMAIL", "ops@partos.example.org")
    path = tmp_path / "outputs-prod.json"
    path.write_text(json.dumps({
        "event-registration-prod": {
            "ApiUrl": API,
            "FormUrl": f"{API}/events/partos-engagement-mobilisatie-2023/register",
            "StaffPolicyArn": "arn:aws:iam::123456789012:policy/event-registration-prod-staff",
            "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
            "ExportBucketName": "event-registration-prod-exports-abc",
        }
    }))
    assert outputs.main(["--stage", "prod", str(path)]) == 0
    printed = capsys.readouterr().out
    assert f"API URL:  {API}\n" in printed
    assert f"Form URL: {API}/events/partos-engagement-mobilisatie-2023/register\n" in printed
    assert "python -m staff --stage prod events put events/<event id>.yaml" in printed
    # The SNS email subscription only delivers once its link is clicked.
    assert "Alarms are emailed to ops@partos.example.org: click the link" in printed
