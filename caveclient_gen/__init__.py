"""caveclient_gen: a typed, fast client for the CAVE connectomics services.

from caveclient_gen import CAVEclient
client = CAVEclient("minnie65_public")
client.materialize.query_table("nucleus_detection_v0")
"""

from __future__ import annotations

from ._client import AsyncCAVEclient, CAVEclient
from ._http.session_defaults import get_session_defaults, set_session_defaults
from ._version import __version__
from .errors import (
    AnnotationUploadError,
    AuthenticationError,
    AuthException,
    BadRequestError,
    CAVEConnectionError,
    CAVEError,
    CAVEServerWarning,
    CAVEStatusError,
    CAVETimeoutError,
    ConflictError,
    GlobalClientError,
    InvalidInequalityException,
    InvalidInputError,
    MissingSkeletonsWarning,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServerIncompatibilityError,
    TermsOfServiceError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)

__all__ = [
    "AnnotationUploadError",
    "AsyncCAVEclient",
    "AuthException",
    "AuthenticationError",
    "BadRequestError",
    "CAVEConnectionError",
    "CAVEError",
    "CAVEServerWarning",
    "CAVEStatusError",
    "CAVETimeoutError",
    "CAVEclient",
    "ConflictError",
    "GlobalClientError",
    "InvalidInequalityException",
    "InvalidInputError",
    "MissingSkeletonsWarning",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServerIncompatibilityError",
    "TermsOfServiceError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "__version__",
    "get_session_defaults",
    "set_session_defaults",
]
