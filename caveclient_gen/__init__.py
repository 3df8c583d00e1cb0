"""caveclient_gen: a typed, fast client for the CAVE connectomics services.

from caveclient_gen import CAVEclient
client = CAVEclient("minnie65_public")
client.materialize.query_table("nucleus_detection_v0")
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._client import AsyncCAVEclient, CAVEclient
from .errors import (
    AuthenticationError,
    AuthException,
    BadRequestError,
    CAVEConnectionError,
    CAVEError,
    CAVEStatusError,
    CAVETimeoutError,
    ConflictError,
    GlobalClientError,
    InvalidInputError,
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
    "AsyncCAVEclient",
    "AuthException",
    "AuthenticationError",
    "BadRequestError",
    "CAVEConnectionError",
    "CAVEError",
    "CAVEStatusError",
    "CAVETimeoutError",
    "CAVEclient",
    "ConflictError",
    "GlobalClientError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServerIncompatibilityError",
    "TermsOfServiceError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "__version__",
]
