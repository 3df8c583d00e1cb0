"""First-time token setup, interactively (CAVEclient.setup_token)."""

from __future__ import annotations

import getpass
import re
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import AuthenticationError, InvalidInputError

if TYPE_CHECKING:
    from .._client import CAVEclient

TOKEN_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def setup_token(
    server_address: str,
    *,
    connect: Callable[[str], CAVEclient],
    overwrite: bool = True,
    open_browser: bool = True,
) -> str:
    """Ask for a token, check that the server accepts it, then save it; returns the file used.

    `connect(token)` makes a client of `server_address` using that token.
    """
    page = f"{server_address.rstrip('/')}/sticky_auth/settings/tokens"
    print(f"Visit {page} and copy an existing token or create a new one.")
    if open_browser:
        webbrowser.open(page)
    token = getpass.getpass("Paste the token here (it is not shown): ").strip().lower()
    if not TOKEN_PATTERN.match(token):
        raise InvalidInputError("token", "a CAVE token is 32 hexadecimal characters")
    with connect(token) as client:
        try:
            datastacks = client.info.get_datastacks()
        except AuthenticationError:
            raise InvalidInputError(
                "token", f"{server_address} does not accept this token; copy it again from {page}"
            ) from None
        written = client.auth.save_token(token, overwrite=overwrite)
    print(f"Token saved. It can view {len(datastacks)} datastack(s).")
    return str(written[0]) if written else "(already saved)"
