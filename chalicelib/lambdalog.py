"""Lambda handlers' logging: Powertools' ``Logger.inject_lambda_context`` for each invocation.

Every log line of an invocation then carries the function's name, memory, ARN, request
id and ``cold_start`` (ids only, never personal data: README, "Logs"). ``make run``
and the tests call the same handlers with no context (``None``); they run as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

R = TypeVar("R")


def with_lambda_context(logger: Logger) -> Callable[[Callable[[Any, Any], R]], Callable[[Any, Any], R]]:
    """Decorate a ``handler(lambda_event, context)`` with ``logger.inject_lambda_context`` when a context is given."""

    def decorate(handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
        injected = logger.inject_lambda_context(handler)

        @functools.wraps(handler)
        def run(lambda_event: Any, context: Any) -> R:
            if context is None:
                return handler(lambda_event, context)
            return injected(lambda_event, context)

        return run

    return decorate
