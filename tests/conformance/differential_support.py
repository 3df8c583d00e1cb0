"""What the differential tests share: the world their cases are drawn from (picked from LocalCAVE),
and the comparison of two encoded outcomes (caveclient_driver.encoded) difference by difference.

test_differential.py compares caveclient 8.2.1 with our client, loosely where the two environments
must differ (floats to 1e-6, pandas 2's names of dtypes, rows in any order); test_sync_async.py
compares our CAVEclient with our AsyncCAVEclient exactly (`EXACT`).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np

from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph

from .differential_cases import NUCLEI, SYNAPSES, World
from .test_data_conformance import two_contact_box

# -- the world -----------------------------------------------------------------------------------


def between(earlier: datetime, later: datetime) -> datetime:
    return earlier + (later - earlier) / 2


def pick_world(cave: LocalCAVE, client: CAVEclient) -> World:
    graph = cave.deployment.component(SegmentationGraph)
    now = datetime.now(UTC)
    versions = sorted(client.materialize.get_versions_metadata(), key=lambda v: v["version"])
    version_times = [v["time_stamp"] for v in versions]
    seeded = graph.edit_times()[: graph.seeded_epoch]
    after_oldest = [t for t in seeded if t > version_times[0]]
    assert len(after_oldest) > 10, "the seeded history changed: pick other moments"
    middle = len(after_oldest) // 2
    past = between(after_oldest[middle], after_oldest[middle + 1])
    later = between(after_oldest[-3], after_oldest[-2])

    synapses: Any = client.materialize.query_table(
        SYNAPSES, select_columns=["pre_pt_root_id", "post_pt_position"], limit=3000, log_warning=False
    )
    counts = Counter(int(root) for root in synapses["pre_pt_root_id"])
    synapse_roots = [root for root, _ in counts.most_common(6)]
    centre = np.array(synapses["post_pt_position"].iloc[0])
    nuclei: Any = client.materialize.query_table(NUCLEI, log_warning=False)
    nucleus_roots = [int(root) for root in nuclei["pt_root_id"].iloc[:10]]
    nucleus_centre = np.array(nuclei["pt_position"].iloc[0])

    somas = graph.soma_supervoxels()
    heavy = graph.heavily_edited_root()
    heavy_soma = somas[graph.roots_at(somas, now) == heavy]
    old_root = int(graph.roots_at(heavy_soma[:1], seeded[len(seeded) // 4])[0])
    past_roots = [int(r) for r in graph.roots_at(np.concatenate([heavy_soma[:1], somas[:3]]), past)]
    assert not set(past_roots) <= set(graph.latest_roots().tolist()), "nothing changed since past"
    _, supervoxels = graph.sample_points(np.random.default_rng(31), 200)
    leaves_root = int(graph.roots_at(somas[1:2], now)[0])
    inside, _ = graph.sample_points(np.random.default_rng(32), 1, roots=[leaves_root])
    voxel = (inside[0] / np.array(graph.base_resolution)).astype(np.int64)
    reach = np.array([64, 64, 8])
    synapse_half, nucleus_half = np.array([3000, 3000, 300]), np.array([20000, 20000, 800])
    contact_root, contact_box = two_contact_box(graph, [int(r) for r in graph.roots_at(somas[:10], now)])
    l2_ids = sorted({int(i) for i in graph.level2_ids_at(supervoxels[:60], graph.seeded_epoch)})
    return World(
        synapse_roots=synapse_roots,
        nucleus_roots=nucleus_roots,
        past_roots=past_roots,
        supervoxels=[int(s) for s in supervoxels],
        old_root=old_root,
        heavy_root=heavy,
        leaves_root=leaves_root,
        leaves_bounds=np.array([voxel - reach, voxel + reach]).T.tolist(),
        synapse_box=[(centre - synapse_half).tolist(), (centre + synapse_half).tolist()],
        nucleus_box=[
            (nucleus_centre - nucleus_half).tolist(),
            (nucleus_centre + nucleus_half).tolist(),
        ],
        versions=[int(v["version"]) for v in versions],
        version_times=version_times,
        past=past,
        later=later,
        annotation_ids=first_ids(client),
        contact=(contact_root, contact_box.tolist()),
        l2_ids=l2_ids,
    )


def first_ids(client: CAVEclient) -> list[int]:
    rows: Any = client.materialize.query_table(SYNAPSES, limit=4, log_warning=False)
    return [int(i) for i in rows["id"]]


# -- comparing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sides:
    """The two outcomes compared: their names in difference lines, and how strictly they must agree."""

    left: str
    right: str
    exact: bool
    """Floats bit for bit, dtypes by their own names, rows in their order; otherwise floats to 1e-6,
    our dtypes as pandas 2 names them, rows as a multiset."""


CAVECLIENT_AND_OURS = Sides("caveclient", "ours", exact=False)
EXACT = Sides("sync", "async", exact=True)


def absent_root(graph: SegmentationGraph, after: int) -> int:
    """An id of the root layer above `after` that the graph never had."""
    return next(
        candidate
        for candidate in range(after + 1, after + 1000)
        if graph.node(candidate) is None and graph.layout.layer(candidate) == graph.n_layers
    )


def pandas2_dtype(dtype: str) -> str:
    """Our dtype as pandas 2 names it (caveclient pins pandas below 3; text is `str` on 3)."""
    return "object" if dtype == "str" else dtype


def same_json(
    theirs: Any, ours: Any, where: str, found: list[str], sides: Sides = CAVECLIENT_AND_OURS
) -> None:
    """Differences between two encoded results (caveclient_driver.encoded), as lines in `found`."""
    left, right = sides.left, sides.right
    if isinstance(theirs, float) and isinstance(ours, float) and not sides.exact:
        if not (math.isclose(theirs, ours, rel_tol=1e-6) or (math.isnan(theirs) and math.isnan(ours))):
            found.append(f"{where}: {left} {theirs!r}, {right} {ours!r}")
        return
    if isinstance(theirs, float) and isinstance(ours, float):
        if theirs.hex() != ours.hex() and not (math.isnan(theirs) and math.isnan(ours)):
            found.append(f"{where}: {left} {theirs!r}, {right} {ours!r}")
        return
    if type(theirs) is not type(ours):
        found.append(f"{where}: {left} {short(theirs)}, {right} {short(ours)}")
        return
    if isinstance(theirs, dict):
        if "$frame" in theirs:
            same_frame(theirs, ours, where, found, sides)
            return
        if "$dict" in theirs and "$dict" in ours and not sides.exact:
            # mappings: keys (with types) and values, in any order
            theirs = {"$dict": sorted(theirs["$dict"], key=lambda pair: json.dumps(pair[:2]))}
            ours = {"$dict": sorted(ours["$dict"], key=lambda pair: json.dumps(pair[:2]))}
        if theirs.keys() != ours.keys():
            found.append(f"{where}: {left} {short(theirs)}, {right} {short(ours)}")
            return
        for key in theirs:
            same_json(theirs[key], ours[key], f"{where}.{key}", found, sides)
        return
    if isinstance(theirs, list):
        if len(theirs) != len(ours):
            found.append(f"{where}: {len(theirs)} items from {left}, {len(ours)} from {right}")
            return
        for index, (their_item, our_item) in enumerate(zip(theirs, ours, strict=True)):
            same_json(their_item, our_item, f"{where}[{index}]", found, sides)
        return
    if theirs != ours:
        found.append(f"{where}: {left} {short(theirs)}, {right} {short(ours)}")


def same_frame(
    theirs: dict[str, Any],
    ours: dict[str, Any],
    where: str,
    found: list[str],
    sides: Sides = CAVECLIENT_AND_OURS,
) -> None:
    left, right = sides.left, sides.right
    their_frame, our_frame = theirs["$frame"], ours["$frame"]
    if their_frame["columns"] != our_frame["columns"]:
        found.append(f"{where} columns: {left} {their_frame['columns']}, {right} {our_frame['columns']}")
        return
    our_dtypes = our_frame["dtypes"] if sides.exact else [pandas2_dtype(d) for d in our_frame["dtypes"]]
    for column, their_dtype, our_dtype in zip(
        their_frame["columns"], their_frame["dtypes"], our_dtypes, strict=True
    ):
        if their_dtype != our_dtype:
            found.append(f"{where} dtype of {column}: {left} {their_dtype}, {right} {our_dtype}")
    if their_frame["index_name"] != our_frame["index_name"]:
        found.append(
            f"{where} index_name: {left} {their_frame['index_name']}, {right} {our_frame['index_name']}"
        )
    their_cells, our_cells = their_frame["cells"], our_frame["cells"]
    for column in dict.fromkeys([*their_cells, *our_cells]):
        if their_cells.get(column) != our_cells.get(column):
            found.append(
                f"{where} cells of {column}: {left} {their_cells.get(column)}, "
                f"{right} {our_cells.get(column)}"
            )
    their_rows: list[Any] = list(zip(their_frame["index"], their_frame["records"], strict=True))
    our_rows: list[Any] = list(zip(our_frame["index"], our_frame["records"], strict=True))
    if sides.exact:  # row by row and cell by cell (as lists), in order
        their_rows = [list(row) for row in their_rows]
        our_rows = [list(row) for row in our_rows]
    else:
        # Rows as a multiset with their index labels: both keep the server's order, which it does
        # not define. Each row is compared whole, by equality (an int cell equals a float one).
        their_rows, our_rows = sorted(their_rows, key=json.dumps), sorted(our_rows, key=json.dumps)
    same_json(their_rows, our_rows, f"{where} rows", found, sides)
    same_json(theirs["attrs"], ours["attrs"], f"{where} attrs", found, sides)


def short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) < 160 else text[:157] + "..."


MOMENTS_IN_TEXT = re.compile(
    r"(?P<epoch>\b1\d{9}(?:\.\d+)?\b)"
    r"|(?P<iso>\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?)"
    r"|(?P<http>\b\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\b)"
)
"""A moment in text: seconds since 1970 (the `timestamp=` of a URL in an error message), ISO 8601
(naive: UTC), an HTTP date."""


def moment_in_text(found: re.Match[str]) -> datetime:
    text = found.group()
    if found.group("epoch"):
        return datetime.fromtimestamp(float(text), UTC)
    if found.group("http"):
        return parsedate_to_datetime(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def settled_now(outcome: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Times from the test's run (root timestamps asked with latest=True are "now"; moments in
    text: URLs and messages of errors, tokens' last use, exports' manifests) as a marker: the
    two clients ask at different moments."""

    def settle_text(found: re.Match[str]) -> str:
        during = start.replace(microsecond=0) <= moment_in_text(found) <= end  # HTTP dates: seconds
        return "<during the test>" if during else found.group()

    def settle(value: Any) -> Any:
        if isinstance(value, str):
            return MOMENTS_IN_TEXT.sub(settle_text, value)
        if isinstance(value, dict):
            if "$datetime" in value and start <= datetime.fromisoformat(value["$datetime"]) <= end:
                return {"$datetime": "<during the test>", "tz": value["tz"]}
            return {key: settle(item) for key, item in value.items()}
        if isinstance(value, list):
            return [settle(item) for item in value]
        return value

    return settle(outcome)  # type: ignore[no-any-return]
