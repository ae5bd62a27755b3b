"""The local outbox: every email moto's SES accepted, written as an ``.eml`` file.

moto keeps sent messages in memory (``ses_backends[account][region].sent_messages``,
SES v2 raw sends included); the writer copies each new one to
``outbox/<UTC time>-<n>-<message id>.eml`` and prints a line with the subject.
"""

from __future__ import annotations

import email
import email.policy
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class OutboxWriter:
    """Copies newly sent messages of moto's SES (this process) into ``directory``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._written = 0

    def _messages(self) -> list[Any]:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        region = os.environ.get("AWS_REGION", "eu-west-1")
        return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)

    def write_new(self) -> list[Path]:
        """Write the messages sent since the last call; returns their paths."""
        messages = self._messages()
        paths: list[Path] = []
        for message in messages[self._written :]:
            raw = getattr(message, "raw_data", None)
            if raw is None:
                continue
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            path = self.directory / f"{stamp}-{self._written + len(paths) + 1:04d}-{message.id}.eml"
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
            path.write_bytes(data)
            subject = email.message_from_bytes(data, policy=email.policy.default)["Subject"]
            print(f"[outbox] {path.name}: {subject}", flush=True)
            paths.append(path)
        self._written = len(messages)
        return paths
