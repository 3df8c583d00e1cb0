"""The auth service (middle_auth 2.30.3): tokens, users, groups, datasets, resource mapping.

Its own routes are guarded by the same rules as every other service (it uses the same client
decorators); several admin lookups answer plain-text 403s instead of JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..server.wire import flask_error_page, flask_json, flask_text, http_date
from ..world.deployment import Deployment
from .guard import AuthGuard, Caller, CallerEndpoint, Endpoint, middle_auth_error
from .identity import UserAccount
from .tokens import TokenRecord

PREFIX = "/auth"
# The "sticky" deployment of the same server, where the login and token pages live.
STICKY_PREFIX = "/sticky_auth"
SERVER_VERSION = "2.30.3"
_DEFAULT_PAGE_SIZE = 20


def create_router(deployment: Deployment, guard: AuthGuard) -> Router:
    identity = deployment.identity
    tokens = deployment.tokens
    requires_auth = guard.requires_auth()

    def requires_some_admin(endpoint: CallerEndpoint) -> Endpoint:
        async def admin_only(request: Request, caller: Caller) -> Response:
            account = identity.account(caller.user_id)
            if account is None or not identity.is_some_admin(account):
                return flask_text("Requires admin privilege.", 403)
            return await endpoint(request, caller)

        return requires_auth(admin_only)

    def caller_account(caller: Caller) -> UserAccount:
        account = identity.account(caller.user_id)
        assert account is not None, "a valid token always belongs to an existing user"
        return account

    def user_record(account: UserAccount, *, full: bool) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": account.id,
            "service_account": account.is_service_account,
            "name": account.name,
            "created": http_date(account.created),
            "pi": account.spec.pi,
            "affiliations": identity.affiliations(account),
        }
        if full:
            record["gdpr_consent"] = False
            record["admin_datasets"] = [
                {"id": dataset.id, "name": dataset.name}
                for dataset in identity.datasets_administered(account)
            ]
            record["admin"] = account.spec.superadmin
            record["email"] = account.email
            if account.parent_id is not None:
                parent = identity.account(account.parent_id)
                assert parent is not None
                record["parent_id"] = account.parent_id
                record["parent"] = user_record(parent, full=False)
        return record

    def sees_full_records(caller: Caller) -> bool:
        return caller.is_superadmin or bool(caller.payload.get("service_account"))

    async def version(request: Request) -> Response:
        return flask_text(f"neuroglance_auth -- version {SERVER_VERSION}")

    @requires_auth
    async def user_cache(request: Request, caller: Caller) -> Response:
        return flask_json(caller.payload)

    @requires_auth
    async def my_permissions(request: Request, caller: Caller) -> Response:
        return flask_json(identity.permission_payload(caller_account(caller)))

    @requires_auth
    async def list_tokens(request: Request, caller: Caller) -> Response:
        return flask_json([_token_record(key) for key in tokens.api_keys_of(caller.user_id)])

    @requires_auth
    async def create_token(request: Request, caller: Caller) -> Response:
        body = await _optional_json_body(request)
        options = body or {}
        if not isinstance(options, dict):
            return flask_error_page(500)
        description = options.get("description")
        if description is not None and not isinstance(description, str):
            return flask_error_page(500)
        return flask_json(tokens.issue(caller.user_id, description=description).token)

    @requires_auth
    async def refresh_token(request: Request, caller: Caller) -> Response:
        if len(tokens.api_keys_of(caller.user_id)) > 1:
            return flask_text("Refresh token does not work for accounts with more than one API Key", 400)
        return flask_json(tokens.replace_api_key(caller.user_id))

    @requires_auth
    async def delete_token(request: Request, caller: Caller) -> Response:
        token_id = request.path_params["token_id"]
        owned = [key for key in tokens.api_keys_of(caller.user_id) if key.id == token_id]
        if not owned:
            return flask_text("Token doesn't exist", 404)
        tokens.revoke(owned[0])
        return flask_json("success")

    @requires_auth
    async def logout(request: Request, caller: Caller) -> Response:
        assert caller.token is not None
        record = tokens.use(caller.token)
        if record is None or record.is_api_key:
            return flask_text("Can't logout an API Key.", 422)
        tokens.revoke(record)
        return flask_json("success")

    @requires_auth
    async def logout_all(request: Request, caller: Caller) -> Response:
        tokens.revoke_login_tokens(caller.user_id)
        return flask_json("success")

    @requires_some_admin
    async def find_users(request: Request, caller: Caller) -> Response:
        query = request.query_params
        everyone = identity.accounts()
        normal_accounts = [a for a in everyone if not a.is_service_account]
        if query.get("id"):
            wanted = {int(part) for part in query["id"].split(",") if part.isdigit()}
            found = [a for a in everyone if a.id in wanted]
        elif query.get("email"):
            found = [a for a in everyone if query["email"].lower() in a.email.lower()]
        elif query.get("name"):
            found = [a for a in normal_accounts if query["name"].lower() in a.name.lower()]
        elif query.get("from") or query.get("to"):
            found = _created_between(normal_accounts, query.get("from"), query.get("to"))
        else:
            return user_page(normal_accounts, query.get("page", "1"), query.get("per_page"))
        full = sees_full_records(caller)
        return flask_json([user_record(account, full=full) for account in found])

    def user_page(accounts: list[UserAccount], page_text: str, per_page_text: str | None) -> Response:
        try:
            page = int(page_text)
            per_page = int(per_page_text or _DEFAULT_PAGE_SIZE)
        except ValueError:
            return flask_error_page(500)
        if page < 1 or per_page < 0:
            return flask_error_page(404)
        items = accounts[(page - 1) * per_page : page * per_page] if per_page else []
        if page > 1 and not items:
            return flask_error_page(404)
        pages = math.ceil(len(accounts) / per_page) if per_page else 0
        return flask_json(
            {"pages": pages, "items": [user_record(account, full=False) for account in items]}
        )

    @requires_auth
    async def user_names(request: Request, caller: Caller) -> Response:
        ids_text = request.query_params.get("id")
        if not ids_text:
            return flask_json([])
        try:
            wanted = {int(part) for part in ids_text.split(",") if part}
        except ValueError:
            return flask_error_page(500)
        found = [a for a in identity.accounts() if a.id in wanted]
        return flask_json([{"id": account.id, "name": account.name} for account in found])

    @requires_auth
    async def me(request: Request, caller: Caller) -> Response:
        return flask_json(user_record(caller_account(caller), full=True))

    @requires_auth
    async def one_user(request: Request, caller: Caller) -> Response:
        account = identity.account(request.path_params["user_id"])
        if account is None or account.is_service_account:
            return flask_text("User doesn't exist", 404)
        return flask_json(user_record(account, full=sees_full_records(caller)))

    @requires_some_admin
    async def user_permissions(request: Request, caller: Caller) -> Response:
        account = identity.account(request.path_params["user_id"])
        if account is None or account.is_service_account:
            return flask_text("User doesn't exist", 404)
        return flask_json(identity.permission_payload(account))

    @requires_some_admin
    async def list_groups(request: Request, caller: Caller) -> Response:
        name = request.query_params.get("name", "").lower()
        groups = [g for g in identity.groups() if name in g.name.lower()]
        return flask_json([{"id": group.id, "name": group.name} for group in groups])

    @requires_some_admin
    async def group_users(request: Request, caller: Caller) -> Response:
        members = identity.group_members(request.path_params["group_id"])
        return flask_json(
            [{"id": account.id, "name": account.name, "admin": admin} for account, admin in members]
        )

    @requires_auth
    async def list_datasets(request: Request, caller: Caller) -> Response:
        if caller.is_superadmin:
            datasets = identity.datasets()
        else:
            datasets = identity.datasets_administered(caller_account(caller))
        return flask_json([{"id": d.id, "name": d.name, "tos_id": d.tos_id} for d in datasets])

    @requires_auth
    async def dataset_of_service_table(request: Request, caller: Caller) -> Response:
        params = request.path_params
        dataset = identity.dataset_of_resource(params["service"], params["table"])
        if dataset is None:
            return flask_text("No dataset for given service and table names", 404)
        return flask_json(dataset)

    @requires_auth
    async def table_has_public(request: Request, caller: Caller) -> Response:
        return flask_json(identity.table_has_public(request.path_params["table_id"]))

    @requires_auth
    async def root_is_public(request: Request, caller: Caller) -> Response:
        params = request.path_params
        return flask_json(identity.is_root_public(params["table_id"], params["root_id"]))

    @requires_auth
    async def roots_all_public(request: Request, caller: Caller) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return flask_error_page(415)
        try:
            root_ids = json.loads(await request.body())
        except ValueError:
            return flask_error_page(400)
        if not isinstance(root_ids, list) or not root_ids:
            return middle_auth_error(400, "missing_root_ids")
        table_id = request.path_params["table_id"]
        return flask_json(all(identity.is_root_public(table_id, int(r)) for r in root_ids))

    api = "/api/v1"
    return Router(
        [
            Route("/version", version),
            Route(f"{api}/user/cache", user_cache),
            Route(f"{api}/my_permissions", my_permissions),
            Route(f"{api}/user/token", list_tokens),
            Route(f"{api}/user/token", create_token, methods=["POST"]),
            Route(f"{api}/create_token", create_token),
            Route(f"{api}/refresh_token", refresh_token),
            Route(f"{api}/user/token/{{token_id:int}}", delete_token, methods=["DELETE"]),
            Route(f"{api}/logout", logout),
            Route(f"{api}/logout_all", logout_all),
            Route(f"{api}/user", find_users),
            Route(f"{api}/user/me", me),
            Route(f"{api}/username", user_names),
            Route(f"{api}/user/{{user_id:int}}", one_user),
            Route(f"{api}/user/{{user_id:int}}/permissions", user_permissions),
            Route(f"{api}/group", list_groups),
            Route(f"{api}/group/{{group_id:int}}/user", group_users),
            Route(f"{api}/dataset", list_datasets),
            Route(f"{api}/service/{{service}}/table/{{table}}/dataset", dataset_of_service_table),
            Route(f"{api}/table/{{table_id}}/has_public", table_has_public),
            Route(f"{api}/table/{{table_id}}/root/{{root_id:int}}/is_public", root_is_public),
            Route(f"{api}/table/{{table_id}}/root_all_public", roots_all_public, methods=["POST"]),
        ],
        redirect_slashes=False,
    )


def _token_record(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "user_id": record.user_id,
        "token": record.token,
        "description": record.description,
        "created": http_date(record.created),
        "updated": http_date(record.updated),
        "last_used": None if record.last_used is None else http_date(record.last_used),
    }


async def _optional_json_body(request: Request) -> Any:
    """The body if it is labelled JSON and parses, else None (Flask's silent ``get_json``)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return None
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def _created_between(
    accounts: list[UserAccount], from_text: str | None, to_text: str | None
) -> list[UserAccount]:
    try:
        start = float(from_text) if from_text else None
        end = float(to_text) if to_text else None
    except ValueError:
        # The real database rejects the cast and the server answers an empty list.
        return []
    return [
        account
        for account in accounts
        if (start is None or account.created.timestamp() >= start)
        and (end is None or account.created.timestamp() <= end)
    ]
