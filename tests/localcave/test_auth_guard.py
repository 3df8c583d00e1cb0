"""The middle_auth rules every service applies: where the token comes from, and who may pass."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caveclient_gen.testing import AuthGuard, Caller, InProcessTransport, LocalCAVE, LocalUser

from .conftest import bearer

PROGRAMMATIC = {"X-Requested-With": "XMLHttpRequest"}
USER_CACHE = "/auth/api/v1/user/cache"


def caller_id(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    user_id: int = response.json()["id"]
    return user_id


@pytest.fixture
def user_ids(cave: LocalCAVE) -> dict[str, int]:
    return {name: index + 1 for index, name in enumerate(cave.users)}


# -- where the token is read ----------------------------------------------------------------


def test_cookie_token_is_accepted(
    client: httpx.Client, cave: LocalCAVE, user_ids: dict[str, int]
) -> None:
    client.cookies.set("middle_auth_token", cave.tokens["viewer"])
    assert caller_id(client.get(USER_CACHE, headers=PROGRAMMATIC)) == user_ids["viewer"]


def test_query_token_overrides_cookie(
    client: httpx.Client, cave: LocalCAVE, user_ids: dict[str, int]
) -> None:
    client.cookies.set("middle_auth_token", cave.tokens["viewer"])
    response = client.get(USER_CACHE, params={"middle_auth_token": cave.token}, headers=PROGRAMMATIC)
    assert caller_id(response) == user_ids["admin"]


def test_header_overrides_query_and_cookie(
    client: httpx.Client, cave: LocalCAVE, user_ids: dict[str, int]
) -> None:
    client.cookies.set("middle_auth_token", cave.tokens["newcomer"])
    response = client.get(
        USER_CACHE, params={"middle_auth_token": cave.token}, headers=bearer(cave.tokens["viewer"])
    )
    assert caller_id(response) == user_ids["viewer"]


def test_invalid_header_token_is_not_rescued_by_a_valid_query_token(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    response = client.get(USER_CACHE, params={"middle_auth_token": cave.token}, headers=bearer("0" * 32))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


# -- refusals before any permission check ----------------------------------------------------


def test_non_bearer_authorization_header_is_a_bad_request(client: httpx.Client, cave: LocalCAVE) -> None:
    response = client.get(USER_CACHE, headers={"Authorization": f"Token {cave.token}"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "bad_auth_header",
        "message": "Authorization header must begin with 'Bearer'",
    }
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{cave.url}/sticky_auth/api/v1/authorize", error="invalid_request", '
        "error_description=\"Header must begin with 'Bearer'\""
    )


@pytest.mark.parametrize(
    "headers",
    [PROGRAMMATIC, {"Origin": "https://spelunker.cave-explorer.org"}, {"Authorization": "Bearer "}],
    ids=["x-requested-with", "origin", "empty-bearer"],
)
def test_programmatic_request_without_token_gets_401_no_token(
    client: httpx.Client, cave: LocalCAVE, headers: dict[str, str]
) -> None:
    response = client.get("/info/api/v2/datastacks", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "no_token", "message": "Unauthorized - No Token Provided"}
    assert (
        response.headers["www-authenticate"] == f'Bearer realm="{cave.url}/sticky_auth/api/v1/authorize"'
    )


def test_invalid_token_gets_401_invalid_token(client: httpx.Client, cave: LocalCAVE) -> None:
    response = client.get("/info/api/v2/datastacks", headers=bearer("f" * 32))
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "message": "Unauthorized - Token is Invalid or Expired",
    }
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{cave.url}/sticky_auth/api/v1/authorize", error="invalid_token", '
        'error_description="Invalid/Expired Token"'
    )


@pytest.mark.parametrize("cookie", [None, "f" * 32], ids=["no-token", "invalid-cookie"])
def test_browser_without_valid_token_is_sent_to_login(
    client: httpx.Client, cave: LocalCAVE, cookie: str | None
) -> None:
    if cookie is not None:
        client.cookies.set("middle_auth_token", cookie)
    response = client.get("/info/api/v2/datastacks?x=1")
    assert response.status_code == 302
    requested = f"{cave.url}/info/api/v2/datastacks?x=1"
    assert response.headers["location"] == (
        f"{cave.url}/sticky_auth/api/v1/authorize?redirect={quote(requested)}"
    )


def test_browser_with_token_in_url_gets_it_moved_into_a_cookie(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    response = client.get("/info/api/v2/datastacks", params={"middle_auth_token": "anything", "a": "b"})
    assert response.status_code == 302
    assert response.headers["location"] == f"{cave.url}/info/api/v2/datastacks?a=b"
    assert response.headers["set-cookie"] == "middle_auth_token=anything; Secure; HttpOnly; Path=/"


def test_revoked_token_is_invalid(admin: httpx.Client, cave: LocalCAVE) -> None:
    viewer = bearer(cave.tokens["viewer"])
    token_id = admin.get("/auth/api/v1/user/token", headers=viewer).json()[0]["id"]
    assert admin.delete(f"/auth/api/v1/user/token/{token_id}", headers=viewer).json() == "success"
    assert admin.get(USER_CACHE, headers=viewer).status_code == 401


# -- permissions -----------------------------------------------------------------------------


def test_missing_permission_is_403_with_the_dataset(client: httpx.Client, cave: LocalCAVE) -> None:
    response = client.get(
        f"/info/api/v2/datastack/full/{cave.restricted_datastack}", headers=bearer(cave.tokens["viewer"])
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "missing_permission",
        "message": f"Missing permission: view for dataset {cave.restricted_datastack}",
        "data": {"required_permission": "view", "auth_dataset": cave.restricted_datastack},
    }


def test_terms_of_service_not_accepted_is_403_with_the_form(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    response = client.get(
        f"/info/api/v2/datastack/full/{cave.datastack}", headers=bearer(cave.tokens["newcomer"])
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "missing_tos",
        "message": "Need to accept Terms of Service to access resource.",
        "data": {
            "tos_id": 1,
            "tos_name": f"{cave.aligned_volume} Terms of Service",
            "tos_form_url": f"{cave.url}/sticky_auth/api/v1/tos/1/accept",
        },
    }


def test_routes_that_ignore_terms_of_service_let_the_newcomer_in(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    newcomer = bearer(cave.tokens["newcomer"])
    assert client.get(f"/info/api/v2/datastack/{cave.datastack}", headers=newcomer).status_code == 200
    assert client.get("/info/api/v2/datastacks", headers=newcomer).json() == [cave.datastack]


def test_browser_without_terms_of_service_is_sent_to_the_form(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    client.cookies.set("middle_auth_token", cave.tokens["newcomer"])
    response = client.get(f"/info/api/v2/datastack/full/{cave.datastack}")
    assert response.status_code == 302
    requested = quote(f"{cave.url}/info/api/v2/datastack/full/{cave.datastack}")
    assert (
        response.headers["location"]
        == f"{cave.url}/sticky_auth/api/v1/tos/1/accept?redirect={requested}"
    )


def test_unmapped_resource_is_refused_by_the_auth_layer(admin: httpx.Client) -> None:
    response = admin.get("/info/api/v2/datastack/full/no_such_datastack")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_table_id",
        "message": "Invalid table_id for service",
        "data": {"table_id": "no_such_datastack", "resource_namespace": "datastack"},
    }


def test_superadmin_only_route_refuses_others_in_plain_text(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    response = client.post(
        "/nglstate/api/v1/post/12345", content=b"{}", headers=bearer(cave.tokens["viewer"])
    )
    assert response.status_code == 403
    assert response.text == "Requires superadmin privilege."
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_service_account_inherits_its_owners_terms_of_service(cave: LocalCAVE) -> None:
    robot_token = cave.add_user(
        LocalUser("robot", permissions={cave.aligned_volume: ("view",)}, service_account_of="newcomer")
    )
    with httpx.Client(transport=InProcessTransport(cave.app), base_url=cave.url) as client:
        response = client.get(
            f"/info/api/v2/datastack/full/{cave.datastack}", headers=bearer(robot_token)
        )
    assert response.json()["error"] == "missing_tos"


# -- the guard as later services use it ------------------------------------------------------


def guarded_app(cave: LocalCAVE, public_roots: set[int]) -> Starlette:
    guard = AuthGuard(cave.deployment)

    async def root_is_public(request: Request) -> bool:
        return int(request.path_params["root_id"]) in public_roots

    async def describe(request: Request, caller: Caller) -> Response:
        return JSONResponse({"user": caller.user_id, "anonymous": caller.is_anonymous})

    read = guard.requires_permission(
        "view", namespace="pychunkedgraph", table_param="table_id", public_access=root_is_public
    )(describe)
    write = guard.requires_permission(
        "edit", namespace="pychunkedgraph", table_param="table_id", public_access=root_is_public
    )(describe)
    in_group = guard.requires_group("admins")(describe)
    return Starlette(
        routes=[
            Route("/table/{table_id}/node/{root_id:int}/leaves", read),
            Route("/table/{table_id}/node/{root_id:int}/merge", write, methods=["POST"]),
            Route("/group_only", in_group),
        ]
    )


def test_public_access_admits_anonymous_readers_but_never_writers(cave: LocalCAVE) -> None:
    app = guarded_app(cave, public_roots={42})
    with httpx.Client(
        transport=InProcessTransport(app), base_url=cave.url, headers=PROGRAMMATIC
    ) as client:
        public = client.get("/table/minnie3_v1/node/42/leaves")
        assert public.json() == {"user": 0, "anonymous": True}
        assert client.get("/table/minnie3_v1/node/43/leaves").status_code == 401
        assert client.post("/table/minnie3_v1/node/42/merge").status_code == 401
        signed_in = client.get("/table/minnie3_v1/node/43/leaves", headers=bearer(cave.tokens["viewer"]))
        assert signed_in.json() == {"user": 2, "anonymous": False}
        refused = client.post("/table/minnie3_v1/node/42/merge", headers=bearer(cave.tokens["viewer"]))
        assert refused.json()["error"] == "missing_permission"


def test_group_requirement(cave: LocalCAVE) -> None:
    app = guarded_app(cave, public_roots=set())
    with httpx.Client(transport=InProcessTransport(app), base_url=cave.url) as client:
        assert client.get("/group_only", headers=bearer(cave.token)).status_code == 200
        refused = client.get("/group_only", headers=bearer(cave.tokens["viewer"]))
        assert refused.status_code == 403
        assert refused.text == "Requires membership of group: admins"
