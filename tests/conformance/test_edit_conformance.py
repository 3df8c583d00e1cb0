"""Chunkedgraph edits by the official caveclient 8.2.1 and by our client, on a LocalCAVE of their
own (edits change roots, which the read comparisons of test_data_services must not see).

caveclient edits one pair of neighbouring neurons first, then ours an equivalent other pair. New
operation and root ids differ by nature, so the types of the results (type_of) and the effects on
the graph (are the two neurons one root after the merge, two after the split, one after the undo)
are compared, not the ids. caveclient 8.2.1 has no remove_edges or redo_operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph

from .caveclient_driver import TYPES, type_of
from .conftest import run_caveclient
from .test_data_conformance import point_in


@pytest.fixture(scope="module")
def edit_cave() -> Iterator[LocalCAVE]:
    with LocalCAVE(seed=7) as running:
        yield running


def neighbour_pairs(graph: SegmentationGraph, count: int) -> list[dict[str, Any]]:
    """`count` pairs of neighbouring soma supervoxels of separate neurons, no neuron in two pairs."""
    somas = graph.soma_supervoxels()
    roots = graph.roots_at(somas, graph.edit_times()[-1])
    heavy = graph.heavily_edited_root()
    used: set[int] = {int(heavy)}
    pairs: list[dict[str, Any]] = []
    for index in range(len(somas) - 1, 0, -1):
        first, second = int(roots[index - 1]), int(roots[index])
        if first == second or used & {first, second}:
            continue
        used |= {first, second}
        supervoxels = [int(somas[index - 1]), int(somas[index])]
        pairs.append(
            {
                "supervoxels": supervoxels,
                "points": [point_in(graph, supervoxel) for supervoxel in supervoxels],
            }
        )
        if len(pairs) == count:
            return pairs
    raise AssertionError("too few separate neighbouring neurons")


def edit(cg: Any, pair: dict[str, Any]) -> dict[str, Any]:
    """What caveclient_driver.edits does, with our client."""
    (first, second), (source, sink) = pair["supervoxels"], pair["points"]
    results: dict[str, Any] = {
        "do_merge": cg.do_merge([first, second], [source, sink], resolution=(1, 1, 1))
    }
    merged = int(cg.get_root_id(first))
    results["merged"] = merged == int(cg.get_root_id(second))
    results["preview_split"] = cg.preview_split([source], [sink], merged, [first], [second])
    split = cg.execute_split([source], [sink], merged, [first], [second])
    results["execute_split"] = split
    results["split"] = int(cg.get_root_id(first)) != int(cg.get_root_id(second))
    results["undo_operation"] = cg.undo_operation(int(split[0]))
    results["undone"] = int(cg.get_root_id(first)) == int(cg.get_root_id(second))
    return results


def test_edits_match_caveclient(edit_cave: LocalCAVE, tmp_path: Path) -> None:
    graph = edit_cave.deployment.component(SegmentationGraph)
    theirs_pair, ours_pair = neighbour_pairs(graph, 2)
    theirs = run_caveclient("edits", edit_cave, tmp_path, {"pair": theirs_pair})
    failed = {k: v for k, v in theirs.items() if isinstance(v, dict) and set(v) == {"error"}}
    assert failed == {}, "caveclient edits that raised"
    with CAVEclient(
        edit_cave.datastack, server_address=edit_cave.url, auth_token=edit_cave.token
    ) as client:
        ours = edit(client.chunkedgraph, ours_pair)
    # The effects, the same for both: merged, split, merged again by the undo.
    for effect in ("merged", "split", "undone"):
        assert ours[effect] is True, effect
        assert theirs[effect] is True, effect
    differences = {
        name: (type_of(ours[name]), theirs[TYPES][name])
        for name in ("do_merge", "preview_split", "execute_split", "undo_operation")
        if type_of(ours[name]) != theirs[TYPES][name]
    }
    assert differences == {}, "ours is not of caveclient's type"
    # The split's answer: one operation id and the new roots, two of them here.
    assert len(ours["execute_split"][1]) == len(theirs["execute_split"][1]) == 2
    their_preview, our_preview = theirs["preview_split"], ours["preview_split"]
    assert [len(part) > 0 for part in our_preview[:2]] == [len(part) > 0 for part in their_preview[:2]]
    assert our_preview[2] == their_preview[2]
