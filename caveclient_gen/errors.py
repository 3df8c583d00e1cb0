"""The exceptions of caveclient_gen, as one small tree.

    CAVEError
    ├── CAVEConnectionError           the server could not be reached, or the connection broke
    │   ├── CAVETimeoutError          a connect/read/write/pool timeout expired
    │   │   └── ConnectTimeoutError   opening a connection took too long (also a RequestNotSentError)
    │   ├── RequestNotSentError       not opened, or refused unprocessed (HTTP/2): nothing was acted on
    │   └── RequestFailedError        the request could not be sent for another reason (not retried)
    ├── CAVEStatusError               the server answered with an error status (a requests.HTTPError)
    │   ├── BadRequestError           400
    │   ├── AuthenticationError       401, or a redirect to the login page (token missing or invalid)
    │   ├── PermissionDeniedError     403
    │   │   └── TermsOfServiceError   403 until the dataset's terms of service are accepted (tos_url)
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   ├── UnprocessableEntityError  422
    │   ├── RateLimitError            429 (retry_after)
    │   └── ServerError               5xx
    ├── UnexpectedResponseError       the server's answer does not have the documented shape
    ├── InvalidInputError             refused before sending: names the parameter (also a ValueError)
    │   ├── InvalidInequalityException  an inequality filter on a column that is not numeric
    │   └── StagedFieldError          a staged annotation with an unknown or missing field (a TypeError)
    ├── AnnotationUploadError         a staged upload stopped part-way: what was written, what was not
    ├── ExportMismatchError           an export's folder holds an export of another request
    ├── IncompleteExportError         an incomplete export read where a complete one is needed
    ├── ServerIncompatibilityError    the server is too old for the feature asked for (a ValueError)
    └── GlobalClientError             a datastack-level service was used on a client without datastack

    NeedsRequestError (a RuntimeError)  an async client's attribute needs a request not made yet

So that code written for caveclient keeps catching what it caught, the tree also sits under the
exceptions caveclient 8.2.1 raised: every `CAVEStatusError` is a `requests.HTTPError` (with a
`response` whose `status_code`, `url`, `headers` and `text` are those of the error response:
the status received, the URL redacted, a few headers, the body with the token scrubbed; no
request), `CAVEConnectionError` is a `requests.ConnectionError`, `CAVETimeoutError` a
`requests.Timeout`, and bad input (`InvalidInputError`) and version problems
(`ServerIncompatibilityError`) are `ValueError`s.

Warnings (Python warnings, filterable with the `warnings` module):

    CAVEServerWarning                 a message a server sent with its answer (`Warning` header)
    MissingSkeletonsWarning           requested skeletons absent from a result, with the reason per id

Every status error carries the HTTP method, the URL with secrets redacted, the status and the server's
own message. The materialization and annotation servers report most errors as HTTP 500 with the real
status at the start of the message ("404 Not Found: ..."); such errors are raised as the class of the
embedded status, and `wire_status` keeps the 500 that was actually received.
"""

from __future__ import annotations

from typing import Any, Literal

from requests import exceptions as _requests_errors
from requests.models import Response as _RequestsResponse
from requests.structures import CaseInsensitiveDict as _CaseInsensitiveDict

__all__ = [
    "AnnotationUploadError",
    "AuthException",
    "AuthenticationError",
    "BadRequestError",
    "CAVEConnectionError",
    "CAVEError",
    "CAVEServerWarning",
    "CAVEStatusError",
    "CAVETimeoutError",
    "ConflictError",
    "ConnectTimeoutError",
    "ExportMismatchError",
    "GlobalClientError",
    "IncompleteExportError",
    "InvalidInequalityException",
    "InvalidInputError",
    "MissingSkeletonsWarning",
    "NeedsRequestError",
    "NotFoundError",
    "OffsetPagingWarning",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestFailedError",
    "RequestNotSentError",
    "ServerError",
    "ServerIncompatibilityError",
    "StagedFieldError",
    "TermsOfServiceError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
]


class CAVEError(Exception):
    """Base class of every error raised by caveclient_gen."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors: rebuilt from the instance's state, so errors cross process
        # boundaries (multiprocessing, Dask, joblib send a worker's exception back pickled).
        return (_rebuild_error, (type(self), self.args, self.__dict__.copy()))


class CAVEConnectionError(CAVEError, _requests_errors.ConnectionError):
    """The server could not be reached, or the connection broke before a response arrived."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(f"{message} ({method} {url})")
        self.method = method
        self.url = url


class CAVETimeoutError(CAVEConnectionError, _requests_errors.Timeout):
    """A timeout expired (see caveclient_gen's defaults for the limits)."""


class RequestNotSentError(CAVEConnectionError):
    """The server cannot have acted on the request: the connection could not be opened, or an HTTP/2
    server refused the stream (or went away) without processing it."""


class RequestFailedError(CAVEConnectionError):
    """The request could not be sent for a reason other than the network; it is not retried."""


class ExportMismatchError(CAVEError):
    """The export's folder holds an export of another request; it is left as it is."""


class IncompleteExportError(CAVEError):
    """An export that is not complete was read where a complete one is needed."""


class NeedsRequestError(RuntimeError):
    """An attribute of an async client needs a request that has not been made yet."""


class ConnectTimeoutError(RequestNotSentError, CAVETimeoutError):
    """Opening a connection (or getting one from the pool) took too long; nothing was sent."""


_AUTH_ADVICE = (
    "Create a token with `caveclient-gen setup-token {server}` (it opens the page that issues one "
    "and saves it where the client looks), or check which token is used with "
    "`caveclient-gen token --check`."
)


def _server_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "SERVER"


class CAVEStatusError(CAVEError, _requests_errors.HTTPError):
    """The server answered with an error status.

    Also a `requests.HTTPError`, as caveclient raised: `error.response.status_code` is the status
    received (500 where the materialization or annotation server embeds another status in its
    message; `status_code` here is the embedded one), `error.response.text` the body with the
    token scrubbed. `error.request` is None: the request carried the token.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        wire_status: int | None = None,
        error_code: str | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status_code = status_code
        self.wire_status = wire_status if wire_status is not None else status_code
        self.server_message = message
        self.error_code = error_code
        self.data = data
        self.headers = headers or {}
        super().__init__(self._describe(), response=self._response(message if body is None else body))

    def _response(self, body: str) -> _RequestsResponse:
        """What `requests` would have given as `response` (without its request, which held the
        token)."""
        response = _RequestsResponse()
        response.status_code = self.wire_status
        response.url = self.url
        response.headers = _CaseInsensitiveDict(self.headers)
        response.encoding = "utf-8"
        response._content = body.encode("utf-8")
        return response

    def _describe(self) -> str:
        received = f" (sent as HTTP {self.wire_status})" if self.wire_status != self.status_code else ""
        return f"{self.status_code}{received} from {self.method} {self.url}: {self.server_message}"


class BadRequestError(CAVEStatusError):
    """400: the server refused the request as malformed."""


class AuthenticationError(CAVEStatusError):
    """401 or a login redirect: no token was sent, or the token is invalid or expired.

    The message names the command that creates and saves a token for the server that refused.
    """

    def _describe(self) -> str:
        text = super()._describe().rstrip()
        stop = "" if text.endswith((".", "!", "?")) else "."
        return f"{text}{stop} {_AUTH_ADVICE.format(server=_server_of(self.url))}"


class PermissionDeniedError(CAVEStatusError):
    """403: the token is valid but lacks a permission for this resource."""


class TermsOfServiceError(PermissionDeniedError):
    """403 until the terms of service of the dataset are accepted at `tos_url`."""

    @property
    def tos_url(self) -> str | None:
        url = self.data.get("tos_form_url") if isinstance(self.data, dict) else None
        return url if isinstance(url, str) else None

    def _describe(self) -> str:
        text = super()._describe()
        return f"{text} Accept them at {self.tos_url}" if self.tos_url else text


class NotFoundError(CAVEStatusError):
    """404: the datastack, table, version, state or id does not exist."""


class ConflictError(CAVEStatusError):
    """409: the request conflicts with the server's state (for example, an edit already made)."""


class UnprocessableEntityError(CAVEStatusError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(CAVEStatusError):
    """429: too many requests; `retry_after` is the wait the server asked for, in seconds."""

    retry_after: float | None = None


class ServerError(CAVEStatusError):
    """5xx: the server failed."""


class UnexpectedResponseError(CAVEError):
    """The server answered successfully, but not with the shape its spec documents."""


class InvalidInputError(CAVEError, ValueError):
    """An argument was refused before any request was sent.

    The message is ``"<parameter>: <problem>"``, or the problem alone when it already begins with
    the parameter's name (``"method must be ..."``)."""

    def __init__(self, parameter: str, problem: str) -> None:
        named = problem.startswith((f"{parameter} ", f"{parameter}="))
        super().__init__(problem if named else f"{parameter}: {problem}")
        self.parameter = parameter


class ServerIncompatibilityError(CAVEError, ValueError):
    """The server does not offer what was asked for (too old, or the API version lacks it)."""


class GlobalClientError(CAVEError):
    """A datastack-level service was used on a client created without a datastack."""


class InvalidInequalityException(InvalidInputError):  # noqa: N818 - caveclient's name
    """An inequality filter on a column that is not numeric (caveclient's name)."""


class StagedFieldError(InvalidInputError, TypeError):
    """`StagedAnnotations.add` got a field the schema does not have, or lacks a required one.

    Also a TypeError, which caveclient raised for these (its `add` is a generated class whose
    fields are keyword arguments); a value the schema refuses is a plain InvalidInputError.
    """


class AnnotationUploadError(CAVEError):
    """A staged upload stopped part-way.

    `written` holds what the server confirmed before the failure: new ids (inserts) or old id (a
    string, as the server keys it) -> new id (updates); those rows are marked uploaded in the stage.
    `failed_rows` are the stage positions of the batch that failed and `batch_outcome` says what is
    known about it: "rejected" (the server refused it or it was never sent: none of it was written)
    or "unknown" (the connection broke or the server failed after receiving it: it may have been
    written; check before uploading it again).
    `remaining_rows` were not attempted. Calling upload_staged_annotations again uploads every row not
    marked uploaded, so resolve an "unknown" batch first.
    """

    def __init__(
        self,
        *,
        written: list[int] | dict[str, int],
        failed_rows: list[int],
        remaining_rows: list[int],
        batch_outcome: Literal["rejected", "unknown"],
        cause: Exception,
    ) -> None:
        self.written = written
        self.failed_rows = failed_rows
        self.remaining_rows = remaining_rows
        self.batch_outcome = batch_outcome
        self.cause = cause
        fate = (
            "was not written"
            if batch_outcome == "rejected"
            else "may or may not have been written (check the table before retrying it)"
        )
        super().__init__(
            f"upload stopped after {len(written)} rows were written: a batch of {len(failed_rows)} rows "
            f"{fate}; {len(remaining_rows)} more rows were not attempted. Cause: {cause}"
        )


class CAVEServerWarning(UserWarning):
    """A warning a CAVE server sent with its answer: a table owner's notice, a row limit that cut the
    result short (`201 - "Limited query to N rows`), a deprecation notice."""


class OffsetPagingWarning(CAVEServerWarning):
    """A query paged with `offset`: the materialization server orders no rows, so pages can repeat
    some rows and miss others. `all_rows=True` or `export_table` fetch every row exactly."""


class MissingSkeletonsWarning(UserWarning):
    """Some requested root ids have no skeleton in the result (the message says why, per id)."""


def _rebuild_error(cls: type[CAVEError], args: tuple[Any, ...], state: dict[str, Any]) -> CAVEError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


AuthException = AuthenticationError
"""caveclient's name for authentication failures, kept so ported `except` clauses still work."""

STATUS_ERRORS: dict[int, type[CAVEStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[CAVEStatusError]:
    if status >= 500:
        return ServerError
    return STATUS_ERRORS.get(status, CAVEStatusError)
