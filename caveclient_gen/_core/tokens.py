"""Finding, reading and saving CAVE tokens.

A token is looked for in this order, and the first one found is used:

1. the `auth_token` argument;
2. the `auth_token_file` argument (a JSON file), under `auth_token_key` (default "token");
3. the environment variable CAVE_TOKEN;
4. `~/.cloudvolume/secrets/<server host[:port]>-cave-secret.json`, the server's own file;
5. `~/.cloudvolume/secrets/cave-secret.json`;
6. `~/.cloudvolume/secrets/chunkedgraph-secret.json` (deprecated; a warning says so).

Whitespace around a token (a pasted newline) is removed, whatever its source; a token with characters
an HTTP header cannot carry is refused (InvalidInputError, without the token in the message).
These are the files caveclient and CloudVolume share, so a token saved by either works here. Files
are read when the first request needs the token, never at construction. Tokens are written atomically
(a temporary file renamed over the old one) with mode 0600, in a directory of mode 0700.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import _defaults
from ..errors import InvalidInputError


def secrets_directory() -> Path:
    return _defaults.SECRETS_DIRECTORY.expanduser()


def server_token_filename(server_address: str) -> str:
    """`<host[:port]>-cave-secret.json` for a server address (https assumed without a scheme)."""
    address = server_address if "://" in server_address else f"https://{server_address}"
    netloc = urlsplit(address).netloc
    if not netloc:
        raise InvalidInputError("server_address", f"{server_address!r} has no host")
    return f"{netloc}{_defaults.SERVER_TOKEN_FILE_SUFFIX}"


@dataclass(frozen=True)
class TokenSource:
    """Where a token came from; `description` is safe to print (it never holds the token)."""

    token: str | None
    description: str


def clean_token(token: object, parameter: str) -> str | None:
    """A token without surrounding whitespace, or None when nothing is left.

    A token is sent in the Authorization header, which carries only visible ASCII characters: one
    holding anything else (an inner space, a control character, a non-ASCII letter) is refused with
    an InvalidInputError naming where it came from. The message never contains the token.
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise InvalidInputError(parameter, f"a token must be a string, not {type(token).__name__}")
    stripped = token.strip()
    if not stripped:
        return None
    unfit = sorted({f"U+{ord(character):04X}" for character in stripped if not "!" <= character <= "~"})
    if unfit:
        raise InvalidInputError(
            parameter,
            f"the token holds characters an HTTP header cannot carry ({', '.join(unfit[:5])}); "
            "the token itself is not shown",
        )
    return stripped


def read_token_file(path: Path, key: str) -> str | None:
    """The token stored under `key` in a JSON secret file, or None if the file or key is absent."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise InvalidInputError(
            "auth_token_file", f"{path} is not a readable JSON file: {error}"
        ) from None
    if not isinstance(content, dict):
        raise InvalidInputError("auth_token_file", f"{path} does not hold a JSON object")
    value = content.get(key)
    return clean_token(value, "auth_token_file") if isinstance(value, str) else None


def find_token(
    server_address: str,
    *,
    auth_token: str | None = None,
    auth_token_file: str | os.PathLike[str] | None = None,
    auth_token_key: str | None = None,
) -> TokenSource:
    """Look for a token in the documented order."""
    key = auth_token_key or _defaults.TOKEN_KEY
    auth_token = clean_token(auth_token, "auth_token")
    if auth_token:
        return TokenSource(auth_token, "the auth_token argument")
    if auth_token_file is not None:
        path = Path(auth_token_file).expanduser()
        token = read_token_file(path, key)
        if token is None:
            raise InvalidInputError("auth_token_file", f"{path} holds no token under key {key!r}")
        return TokenSource(token, f"{path} (key {key!r})")
    environment = clean_token(
        os.environ.get(_defaults.TOKEN_ENVIRONMENT_VARIABLE), _defaults.TOKEN_ENVIRONMENT_VARIABLE
    )
    if environment:
        return TokenSource(environment, f"the {_defaults.TOKEN_ENVIRONMENT_VARIABLE} variable")
    directory = secrets_directory()
    for name in (server_token_filename(server_address), _defaults.DEFAULT_TOKEN_FILE):
        token = read_token_file(directory / name, key)
        if token:
            return TokenSource(token, f"{directory / name} (key {key!r})")
    legacy = directory / _defaults.LEGACY_TOKEN_FILE
    token = read_token_file(legacy, key)
    if token:
        warnings.warn(
            f"Using a token from {legacy}, which is deprecated: save it with "
            "client.auth.save_token(token) to move it to cave-secret.json.",
            DeprecationWarning,
            stacklevel=3,
        )
        return TokenSource(token, str(legacy))
    return TokenSource(None, "no token found")


def write_token(
    token: str, path: Path, key: str = _defaults.TOKEN_KEY, *, overwrite: bool = False
) -> bool:
    """Store `token` under `key` in the JSON file at `path`, atomically, readable only by the user.

    Returns False when the file already held this very token (nothing to write). Raises
    InvalidInputError when another token is stored under `key` and `overwrite` is False.
    """
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = None
        if not isinstance(loaded, dict):
            raise InvalidInputError(
                "token_file", f"{path} exists and is not a JSON object; not touching it"
            )
        existing = loaded
    if existing.get(key) == token:
        return False
    if key in existing and not overwrite:
        raise InvalidInputError(
            "overwrite",
            f"{path} already holds a different token under {key!r}; pass overwrite=True",
        )
    existing[key] = token
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".token-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(existing, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
