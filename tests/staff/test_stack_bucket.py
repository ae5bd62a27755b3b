"""The staff tools find a deployed stage's export bucket in the stack's outputs."""

import json

from chalicelib import aws as clients


def test_export_bucket_comes_from_the_stack_output(aws, monkeypatch):
    from staff.exportjobs import export_bucket as _export_bucket

    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ExportBucketName": {"Value": "event-registration-prod-exports-abc123"}},
    }
    clients.client("cloudformation").create_stack(
        StackName="event-registration-prod", TemplateBody=json.dumps(template)
    )
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("EXPORT_BUCKET", raising=False)
    assert _export_bucket(None) == "event-registration-prod-exports-abc123"
    assert _export_bucket("given-bucket") == "given-bucket"
