#!/usr/bin/env python3
"""CDK app: synthesises the stack of one stage.

The stage comes from the CDK context (``cdk synth -c stage=prod``) or the
``STAGE`` environment variable.  Run directly (``STAGE=prod python cdk_app.py``)
it synthesises into ``infrastructure/cdk.out`` without the CDK CLI.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stacks.registration import build_app  # noqa: E402


def main() -> None:
    """Synthesise the stack of the requested stage and print where it went."""
    # Under the CDK CLI, CDK_OUTDIR says where to write; alone, use cdk.out.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(HERE / "cdk.out")
    app, stack = build_app(outdir=outdir)
    assembly = app.synth()
    template = Path(assembly.directory) / stack.template_file
    print(f"Synthesised {stack.stack_name} -> {template}", file=sys.stderr)


if __name__ == "__main__":
    main()
