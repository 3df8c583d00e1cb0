"""The auth service's routes (middle_auth 2.30.3)."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import httpx
import pytest

from caveclient_gen.testing import LocalCAVE, LocalUser

from .conftest import bearer

API = "/auth/api/v1"
RFC_1123 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")


def test_version_is_a_plain_text_banner(client: httpx.Client) -> None:
    response = client.get("/auth/version")
    assert response.status_code == 200
    assert response.text == "neuroglance_auth -- version 2.30.3"
    assert response.headers["content-type"].startswith("text/html")


def test_user_cache_payload_of_the_superadmin(admin: httpx.Client, cave: LocalCAVE) -> None:
    payload = admin.get(f"{API}/user/cache").json()
    everything = ["view", "edit", "admin", "admin_view"]
    assert payload == {
        "id": 1,
        "parent_id": None,
        "service_account": False,
        "name": "admin",
        "email": "admin@localcave.example",
        "admin": True,
        "pi": "LocalCAVE",
        "affiliations": [[]],
        "groups": ["default", "admins"],
        "permissions": {cave.aligned_volume: 2, cave.restricted_datastack: 2},
        "permissions_v2": {cave.aligned_volume: everything, cave.restricted_datastack: everything},
        "permissions_v2_ignore_tos": {
            cave.aligned_volume: everything,
            cave.restricted_datastack: everything,
        },
        "missing_tos": [],
        "datasets_admin": [cave.aligned_volume, cave.restricted_datastack],
        "groups_admin": ["admins"],
    }
    assert admin.get(f"{API}/my_permissions").json() == payload


def test_payload_of_a_user_missing_terms_of_service(client: httpx.Client, cave: LocalCAVE) -> None:
    payload = client.get(f"{API}/user/cache", headers=bearer(cave.tokens["newcomer"])).json()
    assert payload["permissions"] == {}
    assert payload["permissions_v2"] == {}
    assert payload["permissions_v2_ignore_tos"] == {cave.aligned_volume: ["view", "edit"]}
    assert payload["missing_tos"] == [
        {
            "dataset_id": 1,
            "dataset_name": cave.aligned_volume,
            "tos_id": 1,
            "tos_name": f"{cave.aligned_volume} Terms of Service",
        }
    ]


def test_json_is_encoded_like_flask_jsonify(admin: httpx.Client) -> None:
    raw = admin.get(f"{API}/user/cache").text
    assert raw.startswith('{"admin":true,"affiliations":[[]],')
    assert raw.endswith("}\n")


def test_tokens_listed_created_and_deleted(admin: httpx.Client, cave: LocalCAVE) -> None:
    (original,) = admin.get(f"{API}/user/token").json()
    assert set(original) == {"id", "user_id", "token", "description", "created", "updated", "last_used"}
    assert original["token"] == cave.token
    assert RFC_1123.fullmatch(original["created"])
    assert RFC_1123.fullmatch(original["last_used"])

    described = admin.post(f"{API}/user/token", json={"description": "for my notebook"}).json()
    plain = admin.get(f"{API}/create_token").json()
    listed = admin.get(f"{API}/user/token").json()
    assert [entry["token"] for entry in listed] == [plain, described, cave.token]
    assert listed[1]["description"] == "for my notebook"
    assert listed[0]["last_used"] is None

    assert admin.delete(f"{API}/user/token/{listed[0]['id']}").json() == "success"
    missing = admin.delete(f"{API}/user/token/{listed[0]['id']}")
    assert (missing.status_code, missing.text) == (404, "Token doesn't exist")
    assert admin.get(f"{API}/user/cache", headers=bearer(plain)).status_code == 401


def test_token_description_from_a_non_json_body_is_ignored(admin: httpx.Client) -> None:
    admin.post(f"{API}/user/token", content=b'{"description": "x"}')
    assert admin.get(f"{API}/user/token").json()[0]["description"] is None


def test_refresh_token_replaces_the_only_key(client: httpx.Client, cave: LocalCAVE) -> None:
    old = cave.tokens["viewer"]
    new = client.get(f"{API}/refresh_token", headers=bearer(old)).json()
    assert new != old
    assert client.get(f"{API}/user/cache", headers=bearer(old)).status_code == 401
    client.post(f"{API}/user/token", headers=bearer(new))
    refused = client.get(f"{API}/refresh_token", headers=bearer(new))
    assert refused.status_code == 400
    assert refused.text == "Refresh token does not work for accounts with more than one API Key"


def test_logout_refuses_api_keys_and_ends_login_tokens(client: httpx.Client, cave: LocalCAVE) -> None:
    refused = client.get(f"{API}/logout", headers=bearer(cave.token))
    assert (refused.status_code, refused.text) == (422, "Can't logout an API Key.")
    login = cave.deployment.tokens.issue(1, is_api_key=False).token
    assert client.get(f"{API}/logout", headers=bearer(login)).json() == "success"
    assert client.get(f"{API}/user/cache", headers=bearer(login)).status_code == 401


def test_user_lookup_by_id_email_name_and_pages(admin: httpx.Client) -> None:
    by_id = admin.get(f"{API}/user", params={"id": "1,3,x"}).json()
    assert [user["name"] for user in by_id] == ["admin", "newcomer"]
    assert set(by_id[0]) == {
        "id",
        "service_account",
        "name",
        "created",
        "pi",
        "affiliations",
        "gdpr_consent",
        "admin_datasets",
        "admin",
        "email",
    }
    assert RFC_1123.fullmatch(by_id[0]["created"])
    assert [u["id"] for u in admin.get(f"{API}/user", params={"email": "VIEWER@"}).json()] == [2]
    assert [u["id"] for u in admin.get(f"{API}/user", params={"name": "come"}).json()] == [3]
    page = admin.get(f"{API}/user", params={"page": 2, "per_page": 2}).json()
    assert page["pages"] == 2
    assert [user["id"] for user in page["items"]] == [3]
    assert "email" not in page["items"][0]
    assert admin.get(f"{API}/user", params={"page": 3, "per_page": 2}).status_code == 404


def test_user_lookup_by_creation_time(admin: httpx.Client) -> None:
    created = admin.get(f"{API}/user/2").json()["created"]
    moment = parsedate_to_datetime(created).timestamp()
    found = admin.get(f"{API}/user", params={"from": moment, "to": moment + 1}).json()
    assert [user["id"] for user in found] == [2]
    assert admin.get(f"{API}/user", params={"from": "yesterday"}).json() == []


def test_admin_lookups_refuse_ordinary_users_in_plain_text(
    client: httpx.Client, cave: LocalCAVE
) -> None:
    viewer = bearer(cave.tokens["viewer"])
    for path in ("/user?id=1", "/group", "/group/1/user", "/user/1/permissions"):
        response = client.get(f"{API}{path}", headers=viewer)
        assert (response.status_code, response.text) == (403, "Requires admin privilege."), path


def test_public_user_records_and_names(client: httpx.Client, cave: LocalCAVE) -> None:
    viewer = bearer(cave.tokens["viewer"])
    record = client.get(f"{API}/user/1", headers=viewer).json()
    assert set(record) == {"id", "service_account", "name", "created", "pi", "affiliations"}
    assert client.get(f"{API}/user/99", headers=viewer).text == "User doesn't exist"
    names = client.get(f"{API}/username", params={"id": "1,2,99"}, headers=viewer).json()
    assert names == [{"id": 1, "name": "admin"}, {"id": 2, "name": "viewer"}]
    assert client.get(f"{API}/username", headers=viewer).json() == []
    assert client.get(f"{API}/username", params={"id": "a"}, headers=viewer).status_code == 500
    me = client.get(f"{API}/user/me", headers=viewer).json()
    assert (me["id"], me["email"], me["admin"]) == (2, "viewer@localcave.example", False)


def test_service_account_records_name_their_parent(cave: LocalCAVE, admin: httpx.Client) -> None:
    cave.add_user(LocalUser("robot", service_account_of="viewer"))
    (robot,) = admin.get(f"{API}/user", params={"id": "4"}).json()
    assert robot["service_account"] is True
    assert robot["parent_id"] == 2
    assert robot["parent"]["name"] == "viewer"
    assert admin.get(f"{API}/user/4").status_code == 404


def test_groups_and_members(admin: httpx.Client) -> None:
    assert admin.get(f"{API}/group").json() == [
        {"id": 1, "name": "default"},
        {"id": 2, "name": "admins"},
    ]
    assert admin.get(f"{API}/group", params={"name": "ADM"}).json() == [{"id": 2, "name": "admins"}]
    members = admin.get(f"{API}/group/1/user").json()
    assert members == [
        {"id": 1, "name": "admin", "admin": False},
        {"id": 2, "name": "viewer", "admin": False},
        {"id": 3, "name": "newcomer", "admin": False},
    ]
    assert admin.get(f"{API}/group/2/user").json() == [{"id": 1, "name": "admin", "admin": True}]
    assert admin.get(f"{API}/group/99/user").json() == []


def test_datasets_and_resource_mapping(
    admin: httpx.Client, client: httpx.Client, cave: LocalCAVE
) -> None:
    assert admin.get(f"{API}/dataset").json() == [
        {"id": 1, "name": cave.aligned_volume, "tos_id": 1},
        {"id": 2, "name": cave.restricted_datastack, "tos_id": None},
    ]
    assert client.get(f"{API}/dataset", headers=bearer(cave.tokens["viewer"])).json() == []
    mapping = {
        ("datastack", cave.datastack): cave.aligned_volume,
        ("datastack", cave.restricted_datastack): cave.restricted_datastack,
        ("aligned_volume", cave.aligned_volume): cave.aligned_volume,
        ("pychunkedgraph", "minnie3_v1"): cave.aligned_volume,
    }
    for (service, table), dataset in mapping.items():
        assert admin.get(f"{API}/service/{service}/table/{table}/dataset").json() == dataset
    unknown = admin.get(f"{API}/service/datastack/table/nope/dataset")
    assert (unknown.status_code, unknown.text) == (404, "No dataset for given service and table names")


def test_public_roots(admin: httpx.Client, cave: LocalCAVE) -> None:
    assert admin.get(f"{API}/table/minnie3_v1/has_public").json() is False
    cave.deployment.identity.mark_root_public("minnie3_v1", 864691135000000001)
    assert admin.get(f"{API}/table/minnie3_v1/has_public").json() is True
    assert admin.get(f"{API}/table/minnie3_v1/root/864691135000000001/is_public").json() is True
    assert admin.get(f"{API}/table/minnie3_v1/root/864691135000000002/is_public").json() is False
    both = admin.post(
        f"{API}/table/minnie3_v1/root_all_public", json=[864691135000000001, 864691135000000002]
    )
    assert both.json() is False
    assert admin.post(f"{API}/table/minnie3_v1/root_all_public", json=[]).json() == {
        "error": "missing_root_ids"
    }


@pytest.mark.parametrize("prefix", ["/auth", "/sticky_auth"])
def test_unknown_routes_get_flask_html_404(client: httpx.Client, prefix: str) -> None:
    response = client.get(f"{prefix}/api/v1/no_such_route")
    assert response.status_code == 404
    assert "<title>404 Not Found</title>" in response.text
