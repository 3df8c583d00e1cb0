"""Redaction of what could carry a secret before it reaches a log, a repr or an exception.

Query values are kept only for parameters on an allow-list (the query parameters of the CAVE specs,
which never carry secrets); every other value, `middle_auth_token` included, prints as REDACTED.

Tokens are redacted at one place, `redact_text`, from every text that leaves the client: exceptions
(messages, attributes and chained causes, by the runtimes as a call ends), server warnings, and log
records of caveclient_gen, httpx, httpcore and hpack (a filter the client installs on those loggers).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

SAFE_QUERY_PARAMETERS = frozenset(
    {
        "allow_invalid_root_ids",
        "allow_missing_lookups",
        "annotation_ids",
        "arrow_format",
        "as_array",
        "as_binary",
        "assert_roots",
        "attribute_names",
        "bounds",
        "chebyshev_distance",
        "count",
        "delimiter",
        "direct_sql_pandas",
        "email",
        "end_time",
        "end_timestamp",
        "expired",
        "fail_to_zero",
        "filter_valid",
        "filtered",
        "from",
        "id",
        "image_source_name",
        "include_undone",
        "int64_as_str",
        "ipc_compress",
        "is_binary",
        "label_columns",
        "label_format",
        "latest",
        "merge_reference",
        "mincut",
        "name",
        "only_internal_edges",
        "operation_ids",
        "page",
        "partners",
        "per_page",
        "precision_mode",
        "priority",
        "random_sample",
        "remesh",
        "return_pyarrow",
        "schema_names",
        "split_positions",
        "start_time",
        "start_timestamp",
        "stop_layer",
        "timestamp",
        "timestamp_future",
        "timestamp_past",
        "to",
        "update_cache",
        "use_redis",
        "user_id",
        "verbose_level",
    }
)
"""Query parameters whose values are shown. tests/test_redaction.py keeps this in step with specs/."""

SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def redact_url(url: str) -> str:
    """The URL with user info removed and query values outside the allow-list replaced."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [
            (name, value if name in SAFE_QUERY_PARAMETERS else REDACTED)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe=",[]",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: REDACTED if name.lower() in SENSITIVE_HEADERS else value for name, value in headers.items()
    }


def scrub(text: str, secret: str | None) -> str:
    """Remove a secret, and every token known to the process, from free text."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, REDACTED)
    return redact_text(text)


# ---------------------------------------------------------------- the one chokepoint for tokens

PREFIX_LENGTH = 8
"""A secret's first characters followed by token characters are redacted too: servers echo tokens
cut short or with a suffix."""

TOKEN_CHARACTERS = r"[A-Za-z0-9._~+/=-]*"  # noqa: S105 - a pattern, not a password
BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",;]+")

LOGGERS = (
    "caveclient_gen",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack",
    "hpack.hpack",
    "hpack.table",
    "h2",
    "h2.connection",
)
"""Loggers whose records can hold request headers or messages: each gets the redacting filter
(a filter applies to the records of its own logger, not those of its children)."""


class _Secrets:
    """The tokens this process has used, and the one pattern that finds any of them."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.pattern: re.Pattern[str] | None = None
        self.lock = threading.Lock()
        self.filters_installed = False


_SECRETS = _Secrets()


def register_secret(secret: str | None) -> None:
    """Remember a token of this process: from now on it is redacted wherever `redact_text` runs."""
    if not secret or len(secret) < 4:
        return
    with _SECRETS.lock:
        if secret in _SECRETS.known:
            return
        _SECRETS.known.add(secret)
        forms = []
        for known in sorted(_SECRETS.known, key=len, reverse=True):
            forms.append(re.escape(known))
            if len(known) > PREFIX_LENGTH:
                forms.append(re.escape(known[:PREFIX_LENGTH]) + TOKEN_CHARACTERS)
        _SECRETS.pattern = re.compile("|".join(forms))


def redact_text(text: str) -> str:
    """Text with every known token (whole, or by its prefix) and every bearer credential redacted."""
    pattern = _SECRETS.pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return BEARER.sub(rf"\g<1>{REDACTED}", text)


def redact_value(value: Any, depth: int = 0) -> Any:
    """Strings inside a value (dicts, lists, tuples) redacted; anything else unchanged."""
    if depth > 20:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_value(k, depth + 1): redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item, depth + 1) for item in value)
    return value


EXCEPTION_ATTRIBUTES = ("server_message", "url", "data", "headers", "message", "msg", "doc")


def redact_exception(error: BaseException) -> None:
    """Redact, in place, an exception's message and attributes and those of its chained causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        with contextlib.suppress(AttributeError, TypeError):
            current.args = tuple(redact_value(argument) for argument in current.args)
        for name in EXCEPTION_ATTRIBUTES:
            if name in getattr(current, "__dict__", {}):
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(current, name, redact_value(getattr(current, name)))
        pending.extend((current.__cause__, current.__context__))
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException):
            pending.append(cause)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


class RedactingFilter(logging.Filter):
    """Redacts known tokens and bearer credentials from every record of the logger it is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave its formatting error to logging
            return True
        redacted = redact_text(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            redact_exception(record.exc_info[1])
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


FILTER = RedactingFilter("caveclient_gen.redact")


def install_log_filters() -> None:
    """Put the redacting filter on the loggers of caveclient_gen, httpx, httpcore and hpack (once)."""
    if _SECRETS.filters_installed:
        return
    with _SECRETS.lock:
        for name in LOGGERS:
            target = logging.getLogger(name)
            if FILTER not in target.filters:
                target.addFilter(FILTER)
        _SECRETS.filters_installed = True
