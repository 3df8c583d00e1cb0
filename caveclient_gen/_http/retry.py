"""The retry policy: which failures are retried, and how long to wait before each retry.

Reads (GETs and the read-only POST queries) are retried on connection failures and on the statuses of
`RETRY_STATUSES_READ`. Writes are retried only when the server cannot have acted on them: the
connection was never opened, an HTTP/2 server refused the stream unprocessed, or the server refused
with 429. A `Retry-After` header (seconds or an HTTP date) sets the wait; one longer than
`RETRY_AFTER_MAX` ends the retries.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import _defaults
from ..errors import (
    CAVEConnectionError,
    CAVEError,
    CAVEStatusError,
    CAVETimeoutError,
    RateLimitError,
    RequestNotSentError,
)

__all__ = ["RequestNotSentError", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = _defaults.MAX_RETRIES
    backoff_initial: float = _defaults.BACKOFF_INITIAL
    backoff_max: float = _defaults.BACKOFF_MAX
    jitter: float = _defaults.BACKOFF_JITTER
    retry_after_max: float = _defaults.RETRY_AFTER_MAX
    read_statuses: frozenset[int] = _defaults.RETRY_STATUSES_READ
    write_statuses: frozenset[int] = _defaults.RETRY_STATUSES_WRITE
    random_fraction: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    """Source of jitter, a number in [0, 1); tests pass a fixed one."""

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries}")

    def is_retryable(self, error: CAVEError, *, idempotent: bool) -> bool:
        if isinstance(error, RequestNotSentError):
            return True
        if isinstance(error, CAVETimeoutError):
            # A read that timed out waiting for a slow server would only wait as long again.
            return False
        if isinstance(error, CAVEConnectionError):
            return idempotent
        if isinstance(error, CAVEStatusError):
            statuses = self.read_statuses if idempotent else self.write_statuses
            return error.status_code in statuses
        return False

    def delay(self, retry: int, error: CAVEError, *, idempotent: bool) -> float | None:
        """Seconds to wait before retry number `retry` (1 for the first), or None to give up."""
        if retry > self.max_retries or not self.is_retryable(error, idempotent=idempotent):
            return None
        asked: float | None = None
        if isinstance(error, CAVEStatusError):
            from .status import retry_after_seconds

            asked = error.retry_after if isinstance(error, RateLimitError) else None
            if asked is None:
                asked = retry_after_seconds(error.headers.get("retry-after"))
        if asked is not None:
            return None if asked > self.retry_after_max else asked
        backoff = min(self.backoff_max, self.backoff_initial * 2.0 ** (retry - 1))
        return backoff * (1.0 - self.jitter * self.random_fraction())
