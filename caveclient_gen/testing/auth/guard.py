"""The token and permission checks every CAVE service performs (the middle_auth_client rules).

Services decorate their endpoints with an :class:`AuthGuard`; a guarded endpoint receives the
request and the :class:`Caller` (the permission payload the auth service holds for the token)::

    guard = AuthGuard(deployment)

    @guard.requires_permission("view", namespace="datastack", table_param="datastack")
    async def get_datastack(request: Request, caller: Caller) -> Response: ...

Rules, in the order the real decorators apply them: the token comes from the
``middle_auth_token`` cookie, overridden by the query parameter, overridden by an
``Authorization: Bearer`` header; a request is "programmatic" when it carries an Authorization,
X-Requested-With or Origin header, and gets JSON 400/401 errors where a browser gets a 302 to the
login page; then the route's resource is mapped to an auth dataset and the caller's permissions
on it are checked, with the Terms of Service taken into account.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..server.wire import flask_json, flask_redirect, flask_text
from ..world.deployment import Deployment

AUTH_COOKIE_NAME = "middle_auth_token"
# The payload a public-access request runs with when it has no valid token.
_ANONYMOUS_PAYLOAD: Mapping[str, Any] = {
    "id": 0,
    "service_account": False,
    "name": "",
    "email": "",
    "admin": False,
    "groups": [],
    "permissions": {},
}

Endpoint = Callable[[Request], Awaitable[Response]]
PublicAccessCheck = Callable[[Request], Awaitable[bool]]


@dataclass(frozen=True)
class Caller:
    """Who made a request: the auth service's permission payload for the token used."""

    payload: Mapping[str, Any]
    token: str | None

    @property
    def user_id(self) -> int:
        return int(self.payload["id"])

    @property
    def is_superadmin(self) -> bool:
        return bool(self.payload.get("admin", False))

    @property
    def is_anonymous(self) -> bool:
        return self.token is None


CallerEndpoint = Callable[[Request, Caller], Awaitable[Response]]
Guard = Callable[[CallerEndpoint], Endpoint]


def has_permission(
    payload: Mapping[str, Any], dataset: str, permission: str, *, ignore_tos: bool = False
) -> bool:
    key = "permissions_v2"
    if ignore_tos and "permissions_v2_ignore_tos" in payload:
        key = "permissions_v2_ignore_tos"
    return permission in payload.get(key, {}).get(dataset, [])


def is_programmatic(request: Request) -> bool:
    headers = request.headers
    return bool(headers.get("authorization") or headers.get("x-requested-with") or headers.get("origin"))


def middle_auth_error(
    status_code: int,
    code: str,
    message: str | None = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The auth layer's JSON error body ``{error, message, data}``."""
    body: dict[str, Any] = {"error": code}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = dict(data)
    return flask_json(body, status_code, headers)


class _PublicAccess:
    """Whether a route's public-data rule lets this request through; asked at most once."""

    def __init__(self, request: Request, check: PublicAccessCheck | None) -> None:
        self._request = request
        self._check = check
        self._answer: bool | None = None

    async def __call__(self) -> bool:
        if self._answer is None:
            self._answer = False if self._check is None else await self._check(self._request)
        return self._answer


# What refuses a caller once authenticated (a missing permission, group or privilege), or None.
_Refusal = Callable[[Request, Caller, _PublicAccess], Awaitable[Response | None]]


class AuthGuard:
    """Decorators that guard endpoints exactly as the middle_auth_client decorators do."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment

    # -- decorators -------------------------------------------------------------------------

    def requires_auth(self, *, public_access: PublicAccessCheck | None = None) -> Guard:
        """Any valid token (or, where ``public_access`` says so, none)."""
        return self._guard(public_access)

    def requires_permission(
        self,
        permission: str,
        *,
        namespace: str,
        table_param: str | None = None,
        table_id: str | None = None,
        dataset: str | None = None,
        ignore_tos: bool = False,
        public_access: PublicAccessCheck | None = None,
    ) -> Guard:
        """``permission`` on the dataset of the resource named by the path parameter.

        ``namespace`` is the resource namespace (``datastack``, ``aligned_volume``,
        ``pychunkedgraph``); ``table_param`` names the path parameter holding the resource, or
        ``table_id`` / ``dataset`` fix it. ``public_access`` never opens ``edit`` routes.
        """

        async def refusal(request: Request, caller: Caller, public: _PublicAccess) -> Response | None:
            resource = table_id
            if resource is None and table_param is not None:
                resource = request.path_params.get(table_param)
            return await self._check_permission(
                request, caller, permission, namespace, resource, dataset, ignore_tos, public
            )

        return self._guard(None if permission == "edit" else public_access, refusal)

    def requires_superadmin(self) -> Guard:
        async def refusal(request: Request, caller: Caller, public: _PublicAccess) -> Response | None:
            if caller.is_superadmin:
                return None
            return flask_text("Requires superadmin privilege.", 403)

        return self._guard(None, refusal)

    def requires_group(self, group: str) -> Guard:
        async def refusal(request: Request, caller: Caller, public: _PublicAccess) -> Response | None:
            if group in caller.payload.get("groups", []):
                return None
            return flask_text(f"Requires membership of group: {group}", 403)

        return self._guard(None, refusal)

    def _guard(self, public_access: PublicAccessCheck | None, refusal: _Refusal | None = None) -> Guard:
        """Endpoints called with the authenticated caller, unless `refusal` answers in their place."""

        def decorate(endpoint: CallerEndpoint) -> Endpoint:
            @functools.wraps(endpoint)
            async def guarded(request: Request) -> Response:
                public = _PublicAccess(request, public_access)
                outcome = await self._authenticate(request, public)
                if isinstance(outcome, Response):
                    return outcome
                refused = None if refusal is None else await refusal(request, outcome, public)
                if refused is not None:
                    return refused
                return await endpoint(request, outcome)

            return guarded

        return decorate

    # -- checks services also call directly -------------------------------------------------

    def user_has_permission(
        self,
        caller: Caller,
        permission: str,
        table_id: str,
        namespace: str,
        *,
        ignore_tos: bool = False,
    ) -> bool:
        """Whether the caller holds ``permission`` on a resource (used to filter listings)."""
        dataset = self._deployment.identity.dataset_of_resource(namespace, table_id)
        if dataset is None:
            return False
        return has_permission(caller.payload, dataset, permission, ignore_tos=ignore_tos)

    async def authenticate(
        self, request: Request, public_access: PublicAccessCheck | None = None
    ) -> Caller | Response:
        """The caller, or the response that refuses the request (for hand-written checks)."""
        return await self._authenticate(request, _PublicAccess(request, public_access))

    async def _authenticate(self, request: Request, public: _PublicAccess) -> Caller | Response:
        if request.method == "OPTIONS":
            return Caller(_ANONYMOUS_PAYLOAD, None)
        authorize_url = self._deployment.authorize_url
        programmatic = is_programmatic(request)
        token = request.cookies.get(AUTH_COOKIE_NAME)
        query_tokens = request.query_params.getlist(AUTH_COOKIE_NAME)
        query_token = query_tokens[0] if query_tokens else None
        if query_token:
            token = query_token
        auth_header = request.headers.get("authorization")
        if auth_header:
            if not auth_header.startswith("Bearer "):
                challenge = (
                    f'Bearer realm="{authorize_url}", error="invalid_request", '
                    "error_description=\"Header must begin with 'Bearer'\""
                )
                return middle_auth_error(
                    400,
                    "bad_auth_header",
                    "Authorization header must begin with 'Bearer'",
                    headers={"WWW-Authenticate": challenge},
                )
            token = auth_header.split(" ")[1]

        if programmatic:
            if not token and not await public():
                return middle_auth_error(
                    401,
                    "no_token",
                    "Unauthorized - No Token Provided",
                    headers={"WWW-Authenticate": f'Bearer realm="{authorize_url}"'},
                )
        elif query_token:
            # A browser that brought the token in the URL: move it into a cookie.
            clean_url = request.url.remove_query_params([AUTH_COOKIE_NAME, "token"])
            return flask_redirect(
                str(clean_url),
                {"Set-Cookie": f"{AUTH_COOKIE_NAME}={query_token}; Secure; HttpOnly; Path=/"},
            )

        payload = self._deployment.permission_payload_of_token(token) if token else None
        if payload is not None:
            return Caller(payload, token)
        if not programmatic and not await public():
            return flask_redirect(f"{authorize_url}?redirect={quote(str(request.url))}")
        if not await public():
            challenge = (
                f'Bearer realm="{authorize_url}", error="invalid_token", '
                'error_description="Invalid/Expired Token"'
            )
            return middle_auth_error(
                401,
                "invalid_token",
                "Unauthorized - Token is Invalid or Expired",
                headers={"WWW-Authenticate": challenge},
            )
        return Caller(_ANONYMOUS_PAYLOAD, None)

    async def _check_permission(
        self,
        request: Request,
        caller: Caller,
        permission: str,
        namespace: str,
        resource: str | None,
        fixed_dataset: str | None,
        ignore_tos: bool,
        public: _PublicAccess,
    ) -> Response | None:
        if request.method == "OPTIONS":
            return None
        if resource is None and fixed_dataset is None:
            return middle_auth_error(400, "missing_table_id", "Missing table_id")
        dataset = fixed_dataset
        if dataset is None:
            assert resource is not None
            dataset = self._deployment.identity.dataset_of_resource(namespace, resource)
        if dataset is None:
            return middle_auth_error(
                400,
                "invalid_table_id",
                "Invalid table_id for service",
                {"table_id": resource, "resource_namespace": namespace},
            )
        payload = caller.payload
        if has_permission(payload, dataset, permission, ignore_tos=ignore_tos) or await public():
            return None

        relevant_tos = [t for t in payload.get("missing_tos", []) if t["dataset_name"] == dataset]
        # Terms of Service are only mentioned when accepting them would grant the permission.
        if relevant_tos and (
            "permissions_v2_ignore_tos" not in payload
            or has_permission(payload, dataset, permission, ignore_tos=True)
        ):
            tos = relevant_tos[0]
            form_url = self._deployment.tos_accept_url(tos["tos_id"])
            if not is_programmatic(request):
                return flask_redirect(f"{form_url}?redirect={quote(str(request.url))}")
            return middle_auth_error(
                403,
                "missing_tos",
                "Need to accept Terms of Service to access resource.",
                {"tos_id": tos["tos_id"], "tos_name": tos["tos_name"], "tos_form_url": form_url},
            )
        return middle_auth_error(
            403,
            "missing_permission",
            f"Missing permission: {permission} for dataset {dataset}",
            {"required_permission": permission, "auth_dataset": dataset},
        )
