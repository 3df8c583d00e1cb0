"""Deployments run older and newer servers than our specs: a record lacking a field the client does
not read, or carrying fields the specs do not know, still works; what the client reads stays checked.

LocalCAVE's JSON answers are rewritten on their way to the client: every object gains unknown
fields (as newer servers send), or loses the fields the last server releases added (as older ones
send them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import UnexpectedResponseError
from caveclient_gen.testing import InProcessTransport, LocalCAVE

RECENT_FIELDS = frozenset(
    {
        # materialization: version metadata, table and view metadata
        "is_merged",
        "status",
        "notice_text",
        "last_modified",
        "write_permission",
        "read_permission",
        "live_compatible",
        "last_updated",
        # info: datastack and aligned volume records
        "skeleton_source",
        "proofreading_status_table",
        "cell_identification_table",
        "proofreading_review_table",
        "display_name",
        # auth: user records
        "permissions_v2",
        "permissions_v2_ignore_tos",
        "missing_tos",
        "datasets_admin",
        "groups_admin",
        "parent_id",
        "service_account",
        # chunkedgraph: change logs, operation details
        "user_info",
        "operations_ids",
        "past_ids",
    }
)
"""Fields added to the servers' records in their last releases (older deployments lack them)."""


def with_extra_fields(value: Any) -> Any:
    if isinstance(value, dict):
        changed = {key: with_extra_fields(item) for key, item in value.items()}
        # A record (some scalar field), not a map of records keyed by ids or names.
        if any(not isinstance(item, dict | list) for item in value.values()):
            changed["field_from_a_newer_server"] = {"nested": [1, "two"]}
        return changed
    if isinstance(value, list):
        return [with_extra_fields(item) for item in value]
    return value


def without_recent_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: without_recent_fields(item) for key, item in value.items() if key not in RECENT_FIELDS
        }
    if isinstance(value, list):
        return [without_recent_fields(item) for item in value]
    return value


class RewritingTransport(httpx.BaseTransport):
    """Passes requests to LocalCAVE and rewrites the JSON of its successful answers."""

    def __init__(self, inner: httpx.BaseTransport, rewrite: Callable[[Any], Any]) -> None:
        self._inner = inner
        self._rewrite = rewrite
        self.rewritten = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        response.read()  # decoded: Content-Encoding is dropped below
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not (200 <= response.status_code < 300 and media_type.endswith("json")):
            return response
        try:
            document = json.loads(response.content)
        except ValueError:
            return response
        changed = self._rewrite(document)
        if changed == document:
            return response
        self.rewritten += 1
        headers = {
            key: value
            for key, value in response.headers.items()
            if key.lower() not in ("content-encoding", "content-length")
        }
        return httpx.Response(
            response.status_code, headers=headers, content=json.dumps(changed).encode()
        )


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3)


def client_with(cave: LocalCAVE, transport: httpx.BaseTransport) -> CAVEclient:
    return CAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, transport=transport
    )


LIVE_MOMENT = datetime.now(UTC) - timedelta(days=1)
"""The live query's moment, the same in every run (a moment read per run would differ)."""


def exercise(client: CAVEclient) -> dict[str, Any]:
    """Every method reading a record the rewriting touches; their results by name."""
    mat, cg = client.materialize, client.chunkedgraph
    table = "nucleus_detection_v0"
    frame: Any = mat.query_table(table, limit=3, log_warning=False)
    root = int(frame["pt_root_id"].iloc[0])
    views = mat.get_views()
    view = sorted(views)[0]
    return {
        "info.get_datastacks": client.info.get_datastacks(),
        "info.get_datastack_info": client.info.get_datastack_info(),
        "info.get_aligned_volume_info": client.info.get_aligned_volume_info(),
        "info.segmentation_source": client.info.segmentation_source(),
        "info.viewer_site": client.info.viewer_site(),
        "info.local_server": client.info.local_server(),
        "auth.get_user_information": client.auth.get_user_information([1]),
        "auth.get_tokens": client.auth.get_tokens(),
        "schema.get_schemas": client.schema.get_schemas(),
        "materialize.get_versions": mat.get_versions(),
        "materialize.get_versions_metadata": mat.get_versions_metadata(),
        "materialize.get_version_metadata": mat.get_version_metadata(),
        "materialize.get_timestamp": mat.get_timestamp(),
        "materialize.get_tables": mat.get_tables(),
        "materialize.get_table_metadata": mat.get_table_metadata(table),
        "materialize.get_tables_metadata": mat.get_tables_metadata(),
        "materialize.get_views": views,
        "materialize.get_view_metadata": mat.get_view_metadata(view),
        "materialize.get_view_schema": mat.get_view_schema(view),
        "materialize.query_table": frame,
        "materialize.live_query": mat.live_query(table, LIVE_MOMENT, limit=3, log_warning=False),
        "annotation.get_tables": client.annotation.get_tables(),
        "annotation.get_table_metadata": client.annotation.get_table_metadata(table),
        "chunkedgraph.get_change_log": cg.get_change_log(root),
        "chunkedgraph.get_lineage_graph": cg.get_lineage_graph(root),
        "chunkedgraph.get_root_timestamps": cg.get_root_timestamps([root]),
        "chunkedgraph.segmentation_info": cg.segmentation_info,
        "l2cache.cache_metadata": client.l2cache.cache_metadata(),
        "l2cache.table_mapping": client.l2cache.table_mapping(),
        "skeleton.get_versions": client.skeleton.get_versions(),
    }


@pytest.fixture(scope="module")
def as_sent(cave: LocalCAVE) -> Iterator[dict[str, Any]]:
    with client_with(cave, InProcessTransport(cave.app)) as client:
        yield exercise(client)


def test_unknown_fields_are_accepted_and_returned_as_sent(
    cave: LocalCAVE, as_sent: dict[str, Any]
) -> None:
    transport = RewritingTransport(InProcessTransport(cave.app), with_extra_fields)
    with client_with(cave, transport) as client:
        results = exercise(client)
    assert transport.rewritten > 10
    for name, value in results.items():
        if name in {"materialize.query_table", "materialize.live_query"}:
            assert value.equals(as_sent[name]), name
        elif isinstance(value, dict | list):
            # Records are the server's JSON: the unknown field is there, the rest unchanged.
            assert without_extra(value) == without_extra(as_sent[name]), name
            assert_used_since(name, value, as_sent[name])


LEFT_OUT = frozenset({"field_from_a_newer_server", "last_used"})
"""The added field, and a token's `last_used`, which every request moves (it can cross a second):
`assert_used_since` compares it."""


def assert_used_since(name: str, later: Any, earlier: Any) -> None:
    """A token listing's `last_used` stamps are not earlier than those of the first run."""
    if name != "auth.get_tokens":
        return
    then = [parsedate_to_datetime(token["last_used"]) for token in earlier]
    now = [parsedate_to_datetime(token["last_used"]) for token in later]
    assert len(now) == len(then), name
    assert all(a >= b for a, b in zip(now, then, strict=True)), (name, now, then)


def without_extra(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_extra(item) for key, item in value.items() if key not in LEFT_OUT}
    if isinstance(value, list):
        return [without_extra(item) for item in value]
    return value


def test_records_of_older_servers_are_read(cave: LocalCAVE, as_sent: dict[str, Any]) -> None:
    transport = RewritingTransport(InProcessTransport(cave.app), without_recent_fields)
    with client_with(cave, transport) as client:
        results = exercise(client)
    assert transport.rewritten > 5
    for name, value in results.items():
        if name in ("materialize.query_table", "materialize.live_query"):
            assert value.equals(as_sent[name]), name
        elif isinstance(value, dict | list):
            assert without_extra(value) == without_extra(without_recent_fields(as_sent[name])), name
            assert_used_since(name, value, as_sent[name])


def test_a_field_the_client_reads_stays_checked(cave: LocalCAVE) -> None:
    def drop_local_server(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: drop_local_server(v) for k, v in value.items() if k != "local_server"}
        return value

    transport = RewritingTransport(InProcessTransport(cave.app), drop_local_server)
    with client_with(cave, transport) as client, pytest.raises(UnexpectedResponseError):
        client.materialize.get_tables()
