"""Every failure of an exchange becomes a caveclient_gen error.

The runtimes are the one place where foreign exceptions (httpx, httpcore, json, pyarrow, numpy, …)
are turned into typed ones. What an exception means depends on when it happened:

* before the server's answer arrived, the request could not be built or sent: a body that cannot be
  encoded is refused input (InvalidInputError), anything else a connection failure;
* after the answer arrived (the session's response hook marks the exchange), the answer could not be
  read as documented: a corrupt or mislabelled compressed body, a parse error, a decoding error in a
  plan: UnexpectedResponseError.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from ..errors import CAVEConnectionError, CAVEError, InvalidInputError, UnexpectedResponseError

FOREIGN_PACKAGES = frozenset(
    {
        "anyio",
        "brotli",
        "h11",
        "h2",
        "hpack",
        "httpcore",
        "httpx",
        "json",
        "numpy",
        "pandas",
        "pyarrow",
        "ssl",
        "zlib",
        "zstandard",
    }
)
"""Packages whose exceptions must never reach a caller of a public method."""


DECODING_FAILURES = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)
"""What reading an answer of an unexpected shape raises (UnicodeDecodeError is a ValueError)."""


@dataclass
class Exchange:
    """What is known of one attempt to send a request: whether the server's answer has arrived."""

    received: bool = False


_CURRENT: ContextVar[Exchange | None] = ContextVar("caveclient_gen_exchange", default=None)


def begin_exchange() -> Exchange:
    """A fresh record for the attempt about to be made in this thread or task."""
    exchange = Exchange()
    _CURRENT.set(exchange)
    return exchange


def mark_received() -> None:
    """Called by the session when a response's status line and headers have arrived."""
    exchange = _CURRENT.get()
    if exchange is not None:
        exchange.received = True


def is_foreign(error: BaseException) -> bool:
    """Whether an exception comes from a library the client uses, rather than from the client."""
    return type(error).__module__.split(".")[0] in FOREIGN_PACKAGES


def exchange_failure(error: Exception, *, received: bool) -> CAVEError:
    """The caveclient_gen error for an exception raised while sending a request or reading its answer."""
    description = f"{type(error).__name__}: {error}"
    if received or isinstance(error, httpx.DecodingError):
        return unreadable_answer(description)
    if isinstance(error, TypeError | ValueError) and not is_foreign(error):
        return InvalidInputError("request", f"could not be encoded for sending ({description})")
    return RequestFailedError(f"the request could not be sent ({description})", method="?", url="?")


def plan_failure(error: Exception, *, received: bool) -> CAVEError | None:
    """The typed error for an exception a plan raised, or None when it should propagate unchanged.

    After an answer has reached the plan, a foreign or built-in exception means the answer could not be
    read. Before that, only foreign exceptions are wrapped: a TypeError or ValueError of the client's
    own checks reports a bad argument as it is. An ImportError (a missing optional package) or a
    RuntimeError (a closed client) always propagates: neither says anything about the answer.
    """
    if isinstance(error, CAVEError | Warning):
        return None
    description = f"{type(error).__name__}: {error}"
    if received and (is_foreign(error) or isinstance(error, DECODING_FAILURES)):
        return unreadable_answer(description)
    if is_foreign(error):
        return InvalidInputError("arguments", f"could not be prepared ({description})")
    return None


def unreadable_answer(description: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"the server's answer could not be read as its documented shape ({description})"
    )


class RequestFailedError(CAVEConnectionError):
    """The request could not be sent for a reason other than the network; it is not retried."""
