"""The service's errors as the API answers them, and its one retry policy.

A domain error names its answer the way Chalice's ``ChaliceViewError`` subclasses
carry ``STATUS_CODE``: :class:`ServiceError` subclasses set :attr:`~ServiceError.STATUS`
(HTTP) and :attr:`~ServiceError.CODE` (the last segment of the problem type,
``/problems/<code>``, whose title and detail ``chalicelib.i18n`` words in each
language; README, "HTTP API"). ``chalicelib.problems.problem_for`` is the one table
that turns any of them into the RFC 9457 answer, and ``app.py`` shows that answer as
problem+json, the registration form again, or a page.

:class:`Busy` is the one "try again" of the service: a write whose condition found
that something changed since it was read, or a DynamoDB transaction conflict. The
functions that meet it are wrapped in :func:`retried` (tenacity), counted in
attempts, never in seconds, so a slow machine tries as often as a fast one; once
the attempts are spent :class:`Busy` reaches the caller and the API answers 503
``busy`` with ``Retry-After: 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AWSConnectionError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

if TYPE_CHECKING:
    from chalicelib.store import EventCounters

P = ParamSpec("P")
R = TypeVar("R")


class ServiceError(Exception):
    """An error the API answers with a problem (RFC 9457): ``STATUS``, ``CODE`` and ``HEADERS`` of the answer.

    :meth:`problem_params` fills the placeholders of the code's detail text (``chalicelib.i18n``,
    e.g. ``what="event"`` for ``not-found``).
    """

    STATUS: ClassVar[int] = 500
    CODE: ClassVar[str] = "internal-error"
    HEADERS: ClassVar[dict[str, str]] = {}

    def problem_params(self, language: str) -> dict[str, Any]:
        """Values for the detail text of :attr:`CODE` in ``language``; none by default."""
        return {}


class Unavailable(ServiceError):
    """AWS did not answer in time or kept refusing for now (a read timeout, a dropped connection,
    throttling), after botocore's own retries (``chalicelib.aws.retry_config``): 503 ``unavailable``
    with ``Retry-After: 5`` (README, "HTTP API"), not 500, which says the code is wrong.

    A write's outcome is then unknown; its answer says so, and sending it again is safe: a
    registration's address guard refuses a second one, a cancellation changes nothing twice.
    """

    STATUS = 503
    CODE = "unavailable"
    HEADERS: ClassVar[dict[str, str]] = {"Retry-After": "5"}


#: Error codes AWS answers for "not now" rather than "wrong" (DynamoDB's and the general ones,
#: botocore's ``standard`` retry mode retries them first): throttling, capacity, its own 500s.
TRANSIENT_AWS_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "RequestLimitExceeded",
    "TooManyRequestsException", "InternalServerError", "InternalFailure", "ServiceUnavailable",
})


def unavailable(error: BaseException) -> Unavailable | None:
    """An :class:`Unavailable` for a passing AWS failure (``error`` from botocore: a timeout or lost
    connection, or a code in :data:`TRANSIENT_AWS_CODES`), else ``None`` (anything else is a bug: 500)."""
    if isinstance(error, (HTTPClientError, AWSConnectionError)):
        return Unavailable(type(error).__name__)
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in TRANSIENT_AWS_CODES:
        return Unavailable(str(error.response["Error"]["Code"]))
    return None


class Busy(ServiceError):
    """Something changed between a read and the conditional write that relied on it, or DynamoDB
    reported a transaction conflict: try again (503 ``busy``, ``Retry-After: 1``, once the
    :func:`retried` attempts are spent).

    ``registration`` is the registration item and ``counters`` the event's counters as the
    failed condition saw them (plain values, when DynamoDB returned them), so the next
    attempt need not read them again.
    """

    STATUS = 503
    CODE = "busy"
    HEADERS: ClassVar[dict[str, str]] = {"Retry-After": "1"}

    def __init__(self, message: str, *, registration: dict[str, Any] | None = None,
                 counters: EventCounters | None = None):
        super().__init__(message)
        self.registration = registration
        self.counters = counters


#: Multiplier of the exponential backoff for each second of :func:`retried`'s ``max_wait``: the first
#: waits are up to 0.01 s for a ``max_wait`` of 0.25 s (tenacity's ``wait_random_exponential``).
_BACKOFF_PER_MAX_WAIT = 1 / 25


def retried(attempts: int, *, on: type[Exception] = Busy,
            max_wait: float = 0.25) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function to be called up to ``attempts`` times in all while it raises ``on``.

    Between attempts it waits a random, exponentially growing time (full jitter) of at
    most ``max_wait`` seconds; the last attempt's exception is raised as it is (by
    default :class:`Busy`). The attempts, not the waits, bound the work: each failed
    attempt means another write succeeded.
    """
    return retry(retry=retry_if_exception_type(on), stop=stop_after_attempt(attempts),
                 wait=wait_random_exponential(multiplier=max_wait * _BACKOFF_PER_MAX_WAIT, max=max_wait),
                 reraise=True)
