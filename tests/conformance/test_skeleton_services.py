"""Skeletons: the official caveclient 8.2.1 and our client, on the same running LocalCAVE, return the
same skeletons (values, numpy dtypes, shapes, key order; SWC frames with the same columns and
dtypes) for every skeleton version the service lists.

caveclient checks root ids with a CloudVolume of the segmentation before asking for a skeleton,
so its environment gets cloud-volume (conftest.CLOUD_VOLUME). Nothing of it reaches a storage
bucket: LocalCAVE's graphene info names LocalCAVE itself as the segmentation's data_dir (CloudVolume
reads its provenance file there: 404, and it goes on), and the driver makes every other host
unreachable. `fetch_skeletons(method="gcs")` is not compared: both clients read the H5 files from
Google Cloud Storage's own address, which LocalCAVE does not stand in for.

The driver runs in one subprocess, started when the module begins, while our side runs. Calls that
change the service's cache (generation) are made on roots of each client's own.
"""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import MissingSkeletonsWarning
from caveclient_gen.services.skeleton import SkeletonClient
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.skeleton.store import SkeletonStore

from .caveclient_driver import (
    KEYS,
    SKELETON_VERSIONS,
    TYPES,
    frame_json,
    key_order,
    refusal,
    type_of,
)
from .conftest import CLOUD_VOLUME, run_caveclient
from .differential_support import absent_root
from .test_data_services import plain

CAVECLIENT_DIFFERENCES = {
    "compressDictToBytes": (
        "remove_spaces=True also removes the spaces inside string values in caveclient 8.2.1; "
        "ours writes compact JSON and leaves strings as they are. Listed in "
        "docs/moving-from-caveclient.md."
    ),
    "get_precomputed_skeleton_info:-1/0": (
        "the service has no info document for the aliases -1 and 0 (500); ours asks for the "
        "versions they stand for (4 and 2). Listed in docs/moving-from-caveclient.md."
    ),
    "get_refusal_list": (
        "the service sends a header row that caveclient reads as a first data row; ours reads it "
        "as the header. Listed in docs/moving-from-caveclient.md."
    ),
}
"""Where caveclient 8.2.1 is wrong by design and the comparison is narrowed."""

DOCUMENT = {"vertices": [[1.5, 2, 3]], "meta": {"note": "two words"}, "root": 0}


@pytest.fixture(scope="module")
def picks(cave: LocalCAVE) -> dict[str, Any]:
    """Root ids of every kind, from LocalCAVE's graph and skeleton cache."""
    graph = cave.deployment.component(SegmentationGraph)
    store = cave.deployment.component(SkeletonStore)
    refused = {int(root) for root in graph.refused_roots}
    current = [int(root) for root in graph.latest_roots() if int(root) not in refused]
    cached = [root for root in current if store.is_cached(root)]
    uncached = [root for root in current if not store.is_cached(root)]
    assert len(cached) >= 3, "the seeded cache should hold skeletons"
    assert len(uncached) >= 7, "some current roots should have no skeleton yet"
    absent = absent_root(graph, cached[0])
    return {
        "cached": cached[:3],
        # Each client queues the generation of skeletons of its own, as many for each.
        "uncached": uncached[:3],
        "our_uncached": uncached[3:6],
        "exist": [cached[0], uncached[6], min(refused)],
        "supervoxel": int(graph.soma_supervoxels()[0]),
        "absent": absent,
        "refused": min(refused),
        "payloads": {
            "json": gzip.compress(json.dumps(DOCUMENT).encode(), mtime=0).hex(),
            "text": gzip.compress(b"0 1 1.0 2.0 3.0 0.5 -1\n", mtime=0).hex(),
            "document": DOCUMENT,
            "string": "a text, with spaces",
        },
    }


@pytest.fixture(scope="module")
def theirs(
    cave: LocalCAVE, picks: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Future[dict[str, Any]]]:
    home = tmp_path_factory.mktemp("caveclient-home")
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run_caveclient, "skeleton", cave, home, picks, (CLOUD_VOLUME,))


def as_result(value: Any) -> Any:
    """Our result as the driver keeps caveclient's (skeleton_result): SWC frames as frame_json."""
    if hasattr(value, "dtypes"):
        return frame_json(value)
    if isinstance(value, dict) and all(str(key).isdigit() for key in value):
        return {key: as_result(item) for key, item in value.items()}
    return value


def our_results(skeleton: SkeletonClient[Any], picks: dict[str, Any]) -> dict[str, Any]:
    """Our client's answers to the driver's skeleton section, by the same names."""
    cached, root = picks["cached"], picks["cached"][0]
    payloads = picks["payloads"]
    ours: dict[str, Any] = {
        "get_version": str(skeleton.get_version()),
        "get_versions": skeleton.get_versions(),
        "get_cache_contents": skeleton.get_cache_contents(limit=5),
        "skeletons_exist": skeleton.skeletons_exist(root_ids=picks["exist"]),
        "skeletons_exist:one": skeleton.skeletons_exist(root_ids=picks["exist"][0]),
        "get_refusal_list": skeleton.get_refusal_list(),
    }
    for version in SKELETON_VERSIONS:
        for output_format in ("dict", "swc"):
            ours[f"get_skeleton:{version}:{output_format}"] = skeleton.get_skeleton(
                root, None, version, output_format
            )
        ours[f"get_precomputed_skeleton_info:{version}"] = skeleton.get_precomputed_skeleton_info(
            version
        )
    ours["get_skeleton:default"] = skeleton.get_skeleton(root, verbose_level=1)
    for case in ("supervoxel", "absent", "refused"):
        ours[f"get_skeleton:{case}"] = refusal(partial(skeleton.get_skeleton, picks[case]))
    asked = [*cached, picks["supervoxel"], picks["absent"], picks["refused"]]
    for version, output_format in ((4, "dict"), (1, "dict"), (-1, "swc"), (0, "swc")):
        with pytest.warns(MissingSkeletonsWarning):
            ours[f"get_bulk_skeletons:{version}:{output_format}"] = skeleton.get_bulk_skeletons(
                asked, None, version, output_format, verbose_level=1
            )
        with pytest.warns(MissingSkeletonsWarning):
            ours[f"fetch_skeletons:{version}:{output_format}"] = skeleton.fetch_skeletons(
                [*cached, picks["refused"]], None, version, output_format
            )
    ours["generate_bulk_skeletons_async"] = skeleton.generate_bulk_skeletons_async(picks["our_uncached"])
    ours["generate_bulk_skeletons_async:cached"] = skeleton.generate_bulk_skeletons_async(
        cached, skeleton_version=4, verbose_level=1
    )
    document, text = payloads["document"], payloads["string"]
    ours["decompressBytesToDict"] = skeleton.decompressBytesToDict(bytes.fromhex(payloads["json"]))
    ours["decompressBytesToString"] = skeleton.decompressBytesToString(bytes.fromhex(payloads["text"]))
    ours["compressDictToBytes"] = gzip.decompress(skeleton.compressDictToBytes(document)).decode()
    ours["compressDictToBytes:spaces"] = gzip.decompress(
        skeleton.compressDictToBytes(document, remove_spaces=False)
    ).decode()
    ours["compressStringToBytes"] = gzip.decompress(skeleton.compressStringToBytes(text)).decode()
    return {name: as_result(value) for name, value in ours.items()}


def test_skeletons_match_caveclient(
    ours_client: CAVEclient, picks: dict[str, Any], theirs: Future[dict[str, Any]]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any other warning of ours is a difference too
        ours = our_results(ours_client.skeleton, picks)
    results = theirs.result()
    assert sorted(results) == sorted([*ours, TYPES, KEYS])

    # Checked first against LocalCAVE, so that agreement means something.
    version4 = ours["get_skeleton:4:dict"]
    assert version4["vertices"].shape[1] == 3
    assert len(version4["vertices"]) > 10
    assert version4["lvl2_ids"].dtype == np.int64
    assert "radius" not in ours["get_skeleton:1:dict"]
    assert ours["get_skeleton:2:dict"]["compartment"].dtype == np.float64
    assert len(ours["get_skeleton:4:swc"]["records"]) == len(version4["vertices"])
    assert ours["generate_bulk_skeletons_async"] > 0
    assert ours["generate_bulk_skeletons_async:cached"] == 0
    for name in ("get_bulk_skeletons:4:dict", "fetch_skeletons:0:swc"):
        assert sorted(ours[name]) == sorted(map(str, picks["cached"])), name
    assert ours["get_skeleton:supervoxel"]["ValueError"]
    assert ours["get_skeleton:absent"]["ValueError"]
    assert ours["get_skeleton:refused"]["status"] == 400

    # The service answers 500 for the aliases' info documents; ours asks for 4 and 2 instead.
    for alias, version in ((-1, 4), (0, 2)):
        name = f"get_precomputed_skeleton_info:{alias}"
        assert results[name] == {
            "raised": True,
            "ValueError": False,
            "requests.HTTPError": True,
            "status": 500,
        }, name
        assert ours.pop(name) == ours[f"get_precomputed_skeleton_info:{version}"], name
    # caveclient's remove_spaces also takes the spaces out of string values; ours leaves them.
    compact = ours.pop("compressDictToBytes")
    assert json.loads(compact) == DOCUMENT
    assert results["compressDictToBytes"] == compact.replace(" ", "") != compact
    # caveclient reads the refusal list's header as a data row; ours reads it as the header.
    their_refusals = results["get_refusal_list"]["records"]
    our_refusals = ours.pop("get_refusal_list")
    assert their_refusals[0] == ["DATASTACK_NAME", "ROOT_ID"]
    assert [[name, str(root)] for name, root in our_refusals["records"]] == their_refusals[1:]
    assert our_refusals["columns"] == results["get_refusal_list"]["columns"]

    differences = []
    for name, value in ours.items():
        their_value = results[name]
        if isinstance(their_value, dict) and set(their_value) == {"error"}:
            differences.append(f"{name}: caveclient failed: {their_value['error']}")
            continue
        if plain(value) != their_value:
            differences.append(f"{name}: values differ")
        elif name in results[TYPES] and type_of(value) != results[TYPES][name]:
            differences.append(
                f"{name}: types differ: ours {type_of(value)}, theirs {results[TYPES][name]}"
            )
        elif name in results[KEYS] and key_order(value) != results[KEYS][name]:
            differences.append(f"{name}: key order differs")
    assert not differences, "\n".join(differences)
