#!/usr/bin/env python3
"""Print the URLs of a deployed stage from ``cdk deploy --outputs-file``.

    python infrastructure/outputs.py --stage prod infrastructure/cdk.out/outputs-prod.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from stage_settings import load_settings


def stack_outputs(outputs_file: Path, stack_name: str) -> dict[str, str]:
    """The outputs of ``stack_name`` in a CDK outputs file."""
    data = json.loads(Path(outputs_file).read_text())
    # The CLI keys outputs by the stack's construct id (the stage); accept
    # the CloudFormation stack name too.
    for key in (stack_name, stack_name.rsplit("-", 1)[-1]):
        if key in data:
            return data[key]
    raise KeyError(f"no outputs for {stack_name} in {outputs_file}")


def main(argv: list[str] | None = None) -> int:
    """Print the API URL and the registration form URL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("outputs_file", type=Path)
    args = parser.parse_args(argv)
    settings = load_settings(args.stage)
    outputs = stack_outputs(args.outputs_file, settings.stack_name)
    print()
    print(f"{settings.stack_name} deployed.")
    print(f"  API URL:  {outputs['ApiUrl']}")
    print(f"  Form URL: {outputs['FormUrl']}")
    print(f"  Staff policy to attach: {outputs['StaffPolicyArn']}")
    print(f"  Alarm topic: {outputs['AlarmTopicArn']}")
    if settings.alarm_email:
        print(f"  Alarms are emailed to {settings.alarm_email}: click the link in AWS's "
              "'Subscription Confirmation' email, or none will arrive.")
    else:
        print("  No alarm email: subscribe to the topic, or set ALARM_EMAIL and deploy again.")
    print(f"  Export bucket: {outputs['ExportBucketName']}")
    print("Publish your events (the form answers 404 until you do):")
    print(f"  python -m staff --stage {settings.stage} events put events/<event id>.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
