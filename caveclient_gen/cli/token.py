"""`caveclient-gen setup-token` and `caveclient-gen token --check`: tokens from the shell.

Neither command ever prints a token: `--check` says which token is used (where it came from), whether
the server accepts it, whose it is and what it may access.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from .. import _defaults
from .._client import CAVEclient
from .._http.parse import parsed
from .._http.plan import Plan, fetch, read
from .._http.runtime import SyncRuntime
from ..errors import AuthenticationError, CAVEError, InvalidInputError


def setup_token(server: str | None, *, overwrite: bool, open_browser: bool, out: IO[str]) -> int:
    """Open the server's token page, read a pasted token (not echoed), check it, save it."""
    from .._core.onboarding import setup_token as interactive_setup

    address = (server or _defaults.DEFAULT_GLOBAL_SERVER).rstrip("/")
    try:
        where = interactive_setup(
            address,
            connect=lambda token: CAVEclient(server_address=address, auth_token=token),
            overwrite=overwrite,
            open_browser=open_browser,
        )
    except InvalidInputError as refused:
        advice = " (add --overwrite to replace it)" if "overwrite" in str(refused) else ""
        print(f"Not saved: {refused}{advice}", file=out)
        return 1
    except CAVEError as failed:
        print(f"Not saved: {failed}", file=out)
        return 1
    print("It was already saved." if where == "(already saved)" else f"Saved in {where}", file=out)
    return 0


def check_token(server: str | None, datastack: str | None, *, out: IO[str]) -> int:
    """Say which token is used, where it came from, whether it is accepted and what it may access."""
    with CAVEclient(datastack, server_address=server, write_server_cache=False) as client:
        address = client.server_address
        print(f"server:     {address}", file=out)
        source = client.auth.token_source
        if client.auth.token is None:
            print("token:      none found", file=out)
            print(
                f"Looked for the {_defaults.TOKEN_ENVIRONMENT_VARIABLE} variable and the files in "
                f"{_defaults.SECRETS_DIRECTORY}. "
                f"Create one with `caveclient-gen setup-token {address}`.",
                file=out,
            )
            return 1
        print(f"token:      from {source} (not shown)", file=out)
        try:
            runtime = client._core.runtime
            assert isinstance(runtime, SyncRuntime)
            me = runtime.run(_my_permissions(client))
        except AuthenticationError:
            print("accepted:   no, the server refused this token", file=out)
            print(f"Create a new one with `caveclient-gen setup-token {address}`.", file=out)
            return 1
        except CAVEError as failed:
            print(f"accepted:   unknown ({failed})", file=out)
            return 1
        print("accepted:   yes", file=out)
        identity = f"{me.get('name', '?')} (user id {me.get('id', '?')})"
        if me.get("admin"):
            identity += ", superadmin"
        print(f"user:       {identity}", file=out)
        groups = me.get("groups") or []
        print(f"groups:     {', '.join(map(str, groups)) or '(none)'}", file=out)
        permissions = me.get("permissions_v2") or {}
        if permissions:
            print("datasets:", file=out)
            for dataset in sorted(permissions):
                print(f"  {dataset}: {', '.join(permissions[dataset]) or '(none)'}", file=out)
        else:
            print("datasets:   (no permission on any dataset)", file=out)
        ignoring_tos = me.get("permissions_v2_ignore_tos") or {}
        waiting = sorted(set(ignoring_tos) - set(permissions))
        if waiting:
            print(
                f"terms of service to accept first: {', '.join(waiting)} (the first request to "
                "such a dataset's data answers with the page to accept them)",
                file=out,
            )
        try:
            datastacks = client.info.get_datastacks()
        except CAVEError as failed:
            print(f"datastacks: could not be listed ({failed})", file=out)
            return 0
        print(f"datastacks: {len(datastacks)} viewable: {', '.join(sorted(datastacks))}", file=out)
        if datastack and datastack not in datastacks:
            print(f"This token cannot view the datastack {datastack!r}.", file=out)
            return 1
    return 0


def _my_permissions(client: CAVEclient) -> Plan[dict[str, Any]]:
    from caveclient_gen_api.auth.api.users import get_my_permissions
    from caveclient_gen_api.auth.client import Client as AuthAPI
    from caveclient_gen_api.auth.models.user_permissions import UserPermissions

    api = client._core.session.api(AuthAPI, client._core.deployment.global_server)
    response = yield from fetch(
        read(get_my_permissions.sync_detailed, get_my_permissions.asyncio_detailed, client=api)
    )
    return parsed(response, UserPermissions).to_dict()


def stdout() -> IO[str]:
    return sys.stdout
