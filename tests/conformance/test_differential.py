"""A seeded differential test: caveclient 8.2.1 and our client, on the same LocalCAVE, called with
the same drawn parameter combinations (tests/conformance/differential_cases.py), return the same
values of the same types, DataFrames with the same columns, dtypes, index and attrs, or both raise
errors of compatible classes.

caveclient runs every case in one driver subprocess (its "differential" section) while ours runs
them in-process. Where the two differ on purpose, `deliberate` (whole cases) and TOLERATED (parts
of results) name the row of docs/moving-from-caveclient.md that explains it, and our outcome is
checked against that row instead. A failure lists every differing case by its id, with a line per
difference (where in the result, caveclient's value, ours).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE

from .caveclient_driver import run_case
from .conftest import run_caveclient
from .differential_cases import build_cases
from .differential_support import pick_world, same_json, settled_now, short
from .spec_validator import RecordingTransport

MOVING_DOC = Path(__file__).parents[2] / "docs" / "moving-from-caveclient.md"


def compatible(their_error: dict[str, Any], our_error: dict[str, Any]) -> bool:
    """Ours is an instance of the first class of caveclient's error that is not caveclient's own,
    and has the name of caveclient's own class where it raised one."""
    ours = our_error["mro"]
    their_classes = their_error["mro"]
    foreign = next(kind for kind in their_classes if not kind.startswith("caveclient."))
    if foreign not in ours:
        return False
    if their_classes[0].startswith("caveclient."):
        name = their_classes[0].rsplit(".", 1)[1]
        return any(kind.rsplit(".", 1)[1] == name for kind in ours)
    return True


def differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    if "error" in theirs and "error" in ours:
        if compatible(theirs["error"], ours["error"]):
            return []
        return [f"caveclient raised {error_text(theirs)}; ours {error_text(ours)}"]
    if "error" in theirs:
        return [f"caveclient raised {error_text(theirs)}; ours returned {short(ours['value'])}"]
    if "error" in ours:
        return [f"ours raised {error_text(ours)}; caveclient returned {short(theirs['value'])}"]
    found: list[str] = []
    same_json(theirs["value"], ours["value"], "result", found)
    return found[:20]


def error_text(outcome: dict[str, Any]) -> str:
    error = outcome["error"]
    return f"{error['mro'][0]}: {error['message'][:300]}"


# -- deliberate differences ----------------------------------------------------------------------


@dataclass(frozen=True)
class Deliberate:
    """A difference docs/moving-from-caveclient.md lists: `row` is text of its row there, and
    `ours_ok` checks our outcome of such a case (given caveclient's and ours)."""

    row: str
    ours_ok: Callable[[dict[str, Any], dict[str, Any]], bool]


NAIVE = "| naive datetimes | assumed to be UTC | refused, naming the parameter |"
BAD_INPUT = "| bad input (unknown filter columns, floats or other non-integer ids, naive datetimes) |"
FILTER_OUT = "| `filter_out_dict` | sent to a server that ignores it |"
JOIN_RECORDS = "| `join_query(..., return_df=False)` | `None`"
SELECT_MAP = "| `query_table(..., select_columns={table: [...]})`"
LIST_BOUNDS = "| `bounds` as nested lists"
LIVE_LIMIT = "| `live_query(..., limit=N)`"
SUFFIX_ATTRS = '| `df.attrs["tables"][table]["suffix"]`'
L2_TABLE = "| `get_l2data_table` columns |"
LIMIT = "| `limit=0` or a negative limit | `AssertionError` |"
TIMESTAMPS = "| `get_root_timestamps` of ids the server gives no time for |"
EMPTY_DELTA = "| `get_delta_roots` when no root changed |"
CONTACT_SITES = "| `get_contact_sites` where the server answers |"

TOLERATED: list[tuple[str, str, str]] = [
    # (call, a difference line's pattern, row): parts of a result that differ on purpose.
    ("materialize.", r"^result attrs\.tables\.[^.]+\.suffix: ", SUFFIX_ATTRS),
    (
        "l2cache.get_l2data_table",
        r"^result dtype of \w+: caveclient (object|int64), ours float64$",
        L2_TABLE,
    ),
    (
        "l2cache.get_l2data_table",
        r"^result cells of \w+: caveclient (float|int|float\|int), ours None$",
        L2_TABLE,
    ),
    (
        "chunkedgraph.get_delta_roots",
        r'^result\.\$tuple\[\d\]\.\$ndarray: caveclient "float64", ours "int64"$',
        EMPTY_DELTA,
    ),
]
"""Difference lines that are documented: dropped before a case is judged."""


def has_naive_time(value: Any) -> bool:
    if isinstance(value, dict):
        if "$time" in value:
            return datetime.fromisoformat(value["$time"]).tzinfo is None
        return any(has_naive_time(item) for item in value.values())
    if isinstance(value, list):
        return any(has_naive_time(item) for item in value)
    return False


def raised(outcome: dict[str, Any], qualified: str) -> bool:
    return "error" in outcome and qualified in outcome["error"]["mro"]


def rows_of(outcome: dict[str, Any]) -> int | None:
    value = outcome.get("value")
    if isinstance(value, dict) and "$frame" in value:
        return len(value["$frame"]["records"])
    if isinstance(value, dict) and "$list" in value:
        return len(value["$list"])
    return None


def is_frame(outcome: dict[str, Any]) -> bool:
    value = outcome.get("value")
    return isinstance(value, dict) and "$frame" in value


INVALID = "caveclient_gen.errors.InvalidInputError"
HTTP_ERROR = "requests.exceptions.HTTPError"


def exact_exclusion(theirs: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Our exclusions are applied (fewer rows, where caveclient's come back unfiltered or it fails
    on its own filtering), or refused with an offset."""
    if raised(ours, INVALID):
        return "offset" in ours["error"]["message"]
    ours_rows, their_rows = rows_of(ours), rows_of(theirs)
    return ours_rows is not None and ("error" in theirs or (their_rows or 0) >= ours_rows)


def deliberate(case: dict[str, Any]) -> Deliberate | None:
    call, args, kwargs = case["call"], case["args"], case["kwargs"]
    if has_naive_time([args, kwargs]):
        return Deliberate(NAIVE, lambda theirs, ours: raised(ours, INVALID))
    if call == "materialize.join_query" and kwargs.get("return_df") is False:
        return Deliberate(
            JOIN_RECORDS, lambda theirs, ours: theirs.get("value") is None and rows_of(ours) is not None
        )
    if kwargs.get("limit") == 0:
        return Deliberate(
            LIMIT,
            lambda theirs, ours: raised(theirs, "builtins.AssertionError") and raised(ours, INVALID),
        )
    if call == "chunkedgraph.get_root_timestamps":
        asked = args[0]["$array"] if isinstance(args[0], dict) else args[0]
        return Deliberate(
            TIMESTAMPS,
            lambda theirs, ours: (
                raised(ours, "caveclient_gen.errors.UnexpectedResponseError")
                and "value" in theirs
                and len(theirs["value"]["values"]) < len(asked)
            ),
        )
    if call == "chunkedgraph.get_contact_sites":
        return Deliberate(
            CONTACT_SITES,
            lambda theirs, ours: (
                raised(theirs, "builtins.ValueError") and "$dict" in ours.get("value", {})
            ),
        )
    if "filter_out_dict" in kwargs:
        return Deliberate(FILTER_OUT, exact_exclusion)
    if call == "materialize.query_table" and isinstance(kwargs.get("select_columns"), dict):
        return Deliberate(
            SELECT_MAP,
            lambda theirs, ours: raised(theirs, HTTP_ERROR) and rows_of(ours) is not None,
        )
    if call == "chunkedgraph.get_leaves" and isinstance(kwargs.get("bounds"), list):
        return Deliberate(LIST_BOUNDS, lambda theirs, ours: "$ndarray" in ours.get("value", {}))
    timestamp = kwargs.get("timestamp") if call != "materialize.live_query" else args[1]
    if call.startswith("materialize.") and timestamp is not None and "limit" in kwargs:
        limit = kwargs["limit"]
        return Deliberate(
            LIVE_LIMIT,
            lambda theirs, ours: (rows_of(theirs) or 0) <= (rows_of(ours) or 0) <= limit,
        )
    return None


def bad_input(theirs: dict[str, Any], ours: dict[str, Any]) -> bool:
    """caveclient sent what the server refused; ours refused it before sending (BAD_INPUT)."""
    return raised(theirs, HTTP_ERROR) and raised(ours, INVALID)


def tolerated(call: str, lines: list[str]) -> list[str]:
    return [
        line
        for line in lines
        if not any(
            call.startswith(prefix) and re.search(pattern, line) for prefix, pattern, _ in TOLERATED
        )
    ]


# -- the test ------------------------------------------------------------------------------------


def test_caveclient_and_ours_agree_on_drawn_cases(
    cave: LocalCAVE, ours_client: CAVEclient, recorder: RecordingTransport, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    world = pick_world(cave, ours_client)
    cases = build_cases(world)
    assert len({case["id"] for case in cases}) == len(cases), "case ids must be unique"
    case_file = tmp_path / "cases.json"
    case_file.write_text(json.dumps(cases), encoding="utf-8")
    pinned_version = world.versions[0]
    inputs = {"cases": str(case_file), "pinned_version": pinned_version}
    where: dict[str, Any] = {"server_address": cave.url, "auth_token": cave.token, "transport": recorder}
    with (
        CAVEclient(cave.datastack, **where, version=pinned_version) as pinned,
        CAVEclient(cave.datastack, **where, desired_resolution=[1, 1, 1]) as in_nm,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        theirs_future = pool.submit(run_caveclient, "differential", cave, tmp_path, inputs)
        clients = {"plain": ours_client, "pinned": pinned, "nm": in_nm}
        ours = {case["id"]: run_case(clients[case.get("client", "plain")], case) for case in cases}
        theirs = theirs_future.result()
    end = datetime.now(UTC)

    mismatches: list[str] = []
    documented = MOVING_DOC.read_text(encoding="utf-8")
    for row in (NAIVE, BAD_INPUT, *(row for _, _, row in TOLERATED)):
        assert row in documented, f"not in {MOVING_DOC.name}: {row}"
    for case in cases:
        name = case["id"]
        their_outcome = settled_now(theirs[name], start, end)
        our_outcome = settled_now(ours[name], start, end)
        expected = deliberate(case)
        if expected is not None:
            assert expected.row in documented, f"{name}: not in {MOVING_DOC.name}: {expected.row}"
            found = tolerated(case["call"], differences(their_outcome, our_outcome))
            if found and not expected.ours_ok(their_outcome, our_outcome):
                mismatches.append(
                    f"{name}\n    not as documented ({expected.row}): {short(our_outcome)}"
                )
            elif is_frame(their_outcome) and is_frame(our_outcome):
                # Both gave frames: only the rows may differ (the documented part), not the rest.
                rest = [line for line in found if not line.startswith("result rows")]
                if rest:
                    mismatches.append(name + "\n" + "\n".join(f"    {line}" for line in rest))
            continue
        if bad_input(their_outcome, our_outcome):
            continue
        found = tolerated(case["call"], differences(their_outcome, our_outcome))
        if found:
            mismatches.append(name + "\n" + "\n".join(f"    {line}" for line in found))
    assert not mismatches, f"{len(mismatches)} of {len(cases)} cases differ:\n" + "\n".join(mismatches)
