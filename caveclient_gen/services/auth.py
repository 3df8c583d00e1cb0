"""`client.auth`: the token, where it is stored, and the auth service's user and group records."""

from __future__ import annotations

import logging
import webbrowser
from pathlib import Path
from typing import Any, cast

from caveclient_gen_api.auth.api.groups import get_group_users
from caveclient_gen_api.auth.api.tokens import get_tokens
from caveclient_gen_api.auth.api.users import get_users
from caveclient_gen_api.auth.client import Client as AuthAPI
from caveclient_gen_api.auth.models.api_token import ApiToken
from caveclient_gen_api.auth.models.group_member import GroupMember as GroupMemberModel
from caveclient_gen_api.auth.models.user import User
from caveclient_gen_api.auth.models.user_page import UserPage

from .. import _defaults
from .._core.tokens import (
    clean_token,
    read_token_file,
    secrets_directory,
    server_token_filename,
    write_token,
)
from .._http.parse import parsed_list
from .._http.plan import M, Plan, api_method, fetch, read
from ..errors import InvalidInputError, UnexpectedResponseError
from ..records.global_services import GroupMember, TokenRecord, UserInfo
from ._base import ServiceClient

logger = logging.getLogger("caveclient_gen")


class AuthClient(ServiceClient[M]):
    """Tokens and the auth service. The token itself is never printed, logged or shown in a repr."""

    _SERVER_KEY = "auth_server_address"
    _API_VERSION = 1

    def _api(self) -> AuthAPI:
        return self._session.api(AuthAPI, self._deployment.global_server)

    # ------------------------------------------------------------ the token

    @property
    def token(self) -> str | None:
        """The token requests carry, looked up on first use (see the client for the order).

        Settable: a new token is used from the next request on (every connection is rebuilt). Makes no
        request. Never printed, logged or shown in a repr by this client.
        """
        return self._core.token()

    @token.setter
    def token(self, value: str | None) -> None:
        cleaned = clean_token(value, "token")
        if value is not None and cleaned is None:
            raise InvalidInputError("token", "must be a non-empty string")
        self._core.set_token(cleaned, "set on client.auth.token")

    @property
    def token_source(self) -> str:
        """Where the current token came from, e.g. ``"the CAVE_TOKEN variable"`` or a file path.

        Safe to print: never the token itself. Makes no request.
        """
        return self._core.token_source().description

    @property
    def request_header(self) -> dict[str, str]:
        """The ``Authorization: Bearer`` header requests carry, as a dict (empty without a token).

        Holds the token: do not print or log it. Makes no request.
        """
        token = self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    @property
    def local_server(self) -> str | None:
        """The datastack's local server if its record was already fetched, else None.

        Makes no request.
        """
        record = self._deployment.stored_record()
        local = record.get("local_server") if record else None
        return local if isinstance(local, str) else None

    @property
    def local_server_filepath(self) -> Path | None:
        """The token file CloudVolume reads for the local server's ``graphene://`` paths.

        ``~/.cloudvolume/secrets/<local server host>-cave-secret.json``, or None while the local server
        is not known. Makes no request.
        """
        local = self.local_server
        return secrets_directory() / server_token_filename(local) if local else None

    def get_token(self, token_key: str | None = None) -> str | None:
        """Load the token stored under a key of the token file, and use it from now on.

        Makes no request. The file is the ``auth_token_file`` argument, else the global server's own
        file, else ``~/.cloudvolume/secrets/cave-secret.json``.

        Parameters
        ----------
        token_key : str, optional
            The key in the JSON file (default: ``"token"``).

        Returns
        -------
        str or None
            The token loaded.

        Raises
        ------
        InvalidInputError
            The file holds no token under this key, or is not readable JSON.
        """
        key = token_key or _defaults.TOKEN_KEY
        path = self._token_file()
        token = read_token_file(path, key)
        if token is None:
            raise InvalidInputError("token_key", f"{path} holds no token under key {key!r}")
        self._core.set_token(token, f"{path} (key {key!r})")
        return token

    def _token_file(self) -> Path:
        explicit = self._core.explicit_token_file()
        if explicit is not None:
            return explicit
        server_file = secrets_directory() / server_token_filename(self._deployment.global_server)
        return (
            server_file if server_file.exists() else secrets_directory() / _defaults.DEFAULT_TOKEN_FILE
        )

    def save_token(
        self,
        token: str | None = None,
        token_key: str = _defaults.TOKEN_KEY,
        overwrite: bool = False,
        token_file: str | Path | None = None,
        switch_token: bool = True,
        write_to_server_file: bool = True,
        ignore_readonly: bool = True,
        local_server: bool = True,
    ) -> list[Path]:
        """Store a token where caveclient, CloudVolume and this client find it.

        Makes no request. Files are written atomically with mode 0600 (their folder 0700).

        Parameters
        ----------
        token : str, optional
            The token to store (default: the current one).
        token_key : str, default "token"
            The key to store it under in the JSON file.
        overwrite : bool, default False
            Replace a different token already stored; storing the same token again is not an error.
        token_file : str or pathlib.Path, optional
            The file to write (default: the file the current token was read from, else
            ``~/.cloudvolume/secrets/cave-secret.json``).
        switch_token : bool, default True
            Use the stored token for this client's requests from now on.
        write_to_server_file : bool, default True
            Also write the global server's own file, ``<server host>-cave-secret.json``.
        ignore_readonly : bool, default True
            Skip files that cannot be written (permission denied), logging a warning, instead of failing.
        local_server : bool, default True
            Also write the local server's file when the datastack's local server is already known.

        Returns
        -------
        list of pathlib.Path
            The files written (empty when every file already held this token).

        Raises
        ------
        InvalidInputError
            No token to store, a different token is stored and `overwrite` is False, or a file exists but
            is not a JSON object.
        PermissionError
            A file could not be written and `ignore_readonly` is False.
        """
        value = clean_token(token, "token") if token is not None else self.token
        if not value:
            raise InvalidInputError("token", "there is no token to save")
        targets: list[Path] = []
        if write_to_server_file:
            targets.append(secrets_directory() / server_token_filename(self._deployment.global_server))
        targets.append(Path(token_file).expanduser() if token_file else self._token_file())
        local = self.local_server_filepath if local_server else None
        if local is not None:
            targets.append(local)
        written = []
        for path in dict.fromkeys(targets):
            try:
                if write_token(value, path, token_key, overwrite=overwrite):
                    written.append(path)
            except PermissionError:
                if not ignore_readonly:
                    raise
                logger.warning("could not write the token to %s: permission denied", path)
        if switch_token:
            self._core.set_token(value, "the token given to save_token")
        return written

    # ------------------------------------------------------------ getting a token

    def get_token_page(self, open: bool = True) -> str:
        """The web page of the global server that lists your tokens.

        Makes no request (opens a browser when asked).

        Parameters
        ----------
        open : bool, default True
            Open the page in a web browser.

        Returns
        -------
        str
            The page's URL, ``<server>/sticky_auth/settings/tokens``.
        """
        url = f"{self._deployment.global_server}/sticky_auth/settings/tokens"
        if open:
            webbrowser.open(url)
        return url

    def get_new_token(self, open: bool = False, no_text: bool = False) -> str:
        """The page that creates a new token, with instructions printed.

        Makes no request. Creating a token on that page invalidates the one previously created there.

        Parameters
        ----------
        open : bool, default False
            Open the page in a web browser.
        no_text : bool, default False
            Do not print the instructions.

        Returns
        -------
        str
            The page's URL, ``<server>/auth/api/v1/create_token``.
        """
        url = f"{self._deployment.global_server}/auth/api/v1/create_token"
        if not no_text:
            print(
                "New tokens are created at:\n"
                f"  {url}\n"
                "1. Log in with your account; the page shows a new token.\n"
                "   Note: this invalidates the token previously created on that page.\n"
                "2. Copy it, then save it for later sessions:\n"
                "     client.auth.save_token(token='<token>', overwrite=True)\n"
                "   or use it for this session only:\n"
                "     client.auth.token = '<token>'"
            )
        if open:
            webbrowser.open(url)
        return url

    def setup_token(self, make_new: bool = True, open: bool = True) -> str:
        """A guide to getting a token: a new one, or one from your token page.

        Makes no request. From the shell, ``caveclient-gen setup-token SERVER`` also checks and saves it.

        Parameters
        ----------
        make_new : bool, default True
            Point at the page that creates a new token (see ``get_new_token()``); False points at your
            list of tokens (``get_token_page()``).
        open : bool, default True
            Open the page in a web browser.

        Returns
        -------
        str
            The page's URL.
        """
        if make_new:
            return self.get_new_token(open=open)
        url = self.get_token_page(open=open)
        print(
            f"Your tokens are listed at:\n  {url}\n"
            "Copy one, then: client.auth.save_token(token='<token>')"
        )
        return url

    # ------------------------------------------------------------ auth service records

    @api_method
    def get_tokens(self) -> Plan[list[TokenRecord]]:
        """Your tokens, as recorded by the auth service.

        Calls ``GET /auth/api/v1/user/token``.

        Returns
        -------
        list of TokenRecord
            One dict per token: ``id``, ``user_id``, ``token``, ``description``, ``created``,
            ``updated``, ``last_used``. The values are secrets: do not print them.

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(get_tokens.sync_detailed, get_tokens.asyncio_detailed, client=self._api())
        )
        return [cast(TokenRecord, record.to_dict()) for record in parsed_list(response, ApiToken)]

    @api_method
    def get_user_information(self, user_ids: list[int]) -> Plan[list[UserInfo]]:
        """Records of users, by id (needs an admin role on the auth service).

        Calls ``GET /auth/api/v1/user?id=...``.

        Parameters
        ----------
        user_ids : list of int
            User ids (NumPy integers accepted).

        Returns
        -------
        list of UserInfo
            One dict per user found: ``id``, ``name``, ``email``, ``pi``, ``affiliations``, ``admin``,
            ``service_account``, ``created``, ...

        Raises
        ------
        InvalidInputError
            `user_ids` is empty or holds a value that is not an integer.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = _id_list("user_ids", user_ids)
        response = yield from fetch(
            read(
                get_users.sync_detailed,
                get_users.asyncio_detailed,
                client=self._api(),
                id=",".join(map(str, ids)),
            )
        )
        body: Any = response.parsed
        if isinstance(body, UserPage):
            body = body.items
        if not isinstance(body, list) or not all(isinstance(user, User) for user in body):
            raise UnexpectedResponseError("expected a list of users from the auth service")
        return [cast(UserInfo, user.to_dict()) for user in body]

    @api_method
    def get_group_users(self, group_id: int) -> Plan[list[GroupMember]]:
        """Members of a group (needs an admin role on the auth service).

        Calls ``GET /auth/api/v1/group/{group_id}/user``.

        Parameters
        ----------
        group_id : int
            The group's id.

        Returns
        -------
        list of GroupMember
            One dict per member: ``id``, ``name``, ``admin``.

        Raises
        ------
        InvalidInputError
            `group_id` is not an integer.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(
                get_group_users.sync_detailed,
                get_group_users.asyncio_detailed,
                _id_list("group_id", [group_id])[0],
                client=self._api(),
            )
        )
        members = parsed_list(response, GroupMemberModel)
        return [cast(GroupMember, member.to_dict()) for member in members]


def _id_list(parameter: str, values: object) -> list[int]:
    if isinstance(values, int | str) and not isinstance(values, bool):
        values = [values]
    try:
        items = list(values)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidInputError(parameter, "must be a list of integer ids") from None
    ids = []
    for value in items:
        if isinstance(value, bool) or not (isinstance(value, int) or str(value).isdigit()):
            raise InvalidInputError(parameter, f"{value!r} is not an integer id")
        ids.append(int(value))
    if not ids:
        raise InvalidInputError(parameter, "must not be empty")
    return ids
