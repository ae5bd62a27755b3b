"""The deployed stack's outputs (CloudFormation), for what staff commands cannot find in the stage's config.

``make deploy STAGE=<stage>`` creates the stack ``event-registration-<stage>`` (``infrastructure/``,
docs/deploy.md); its outputs name the export bucket (``ExportBucketName``). The staff policy may
call ``cloudformation:DescribeStacks`` on it. One DescribeStacks call per lookup; nothing cached.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.settings import get_settings


def stack_name(stage: str) -> str:
    """The CloudFormation stack ``make deploy`` creates for ``stage``: ``event-registration-<stage>``."""
    return f"event-registration-{stage}"


def stack_output(name: str, key: str) -> str | None:
    """The output ``key`` of the stack ``name``, or ``None`` when the stack, the output or AWS cannot be had.

    Errors are not raised: a missing stack (or no right to read it) only means the caller asks the
    staff member to give the value another way.
    """
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except (ClientError, BotoCoreError):
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for stack in stacks for o in stack.get("Outputs", [])}
    return outputs.get(key)


def stage_output(key: str) -> str | None:
    """The output ``key`` of the current stage's stack (``STAGE`` in the settings), or ``None``."""
    return stack_output(stack_name(get_settings().stage), key)
