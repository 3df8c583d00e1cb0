"""The benchmarks' LocalCAVE and input data: sized tables, id files, and the configuration the
cases read (benchmarks/cases.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.materialize.settings import configure_materialization

CASE_NAMES = (
    "import",
    "construct_first_query",
    "query_1m_arrays",
    "query_1m_split",
    "live_query",
    "get_roots_1m",
    "get_roots_10m",
    "small_calls_1k",
    "lineage",
    "l2_attributes_100k",
    "l2_attributes_1m",
    "arrow_lower_bound",
)

SEED = 11


@contextlib.contextmanager
def prepared_deployment(scratch: Path, *, quick: bool) -> Iterator[tuple[LocalCAVE, dict[str, Any]]]:
    """A running LocalCAVE with benchmark-sized data, and the cases' configuration."""
    rows = 50_000 if quick else 1_000_000
    many = 100_000 if quick else 10_000_000
    # The L2 attribute cases need a working attributes route (PCGL2Cache 1.3.1 fails every call).
    cave = LocalCAVE(seed=SEED, idealised=["l2_attributes"])
    configure_materialization(cave.deployment, synapse_count=rows, query_limit_size=2 * rows)
    data_dir = scratch / "data"
    data_dir.mkdir()
    graph = cave.deployment.component(SegmentationGraph)
    rng = np.random.default_rng(SEED)
    _, sampled = graph.sample_points(rng, 50_000)
    supervoxels = np.unique(sampled[sampled != 0])
    np.save(data_dir / "supervoxels_1k.npy", rng.choice(supervoxels, 1_000, replace=False))
    np.save(data_dir / "supervoxels_1m.npy", rng.choice(supervoxels, min(many, 1_000_000)))
    np.save(data_dir / "supervoxels_10m.npy", rng.choice(supervoxels, many))
    level2 = np.unique(graph.level2_ids_at(supervoxels, graph.current_epoch))
    np.save(data_dir / "l2_100k.npy", rng.choice(level2, min(many // 100, 100_000)))
    np.save(data_dir / "l2_1m.npy", rng.choice(level2, min(many // 10, 1_000_000)))
    edits = graph.edit_times()
    config = {
        "server": cave.url,
        "datastack": cave.datastack,
        "token": cave.token,
        "data_dir": str(data_dir),
        "synapse_table": "synapses_pni_2",
        "soma_table": "nucleus_detection_v0",
        "version": None,
        "live_timestamp": edits[len(edits) // 2].isoformat(),
        "edited_root": int(graph.heavily_edited_root()),
        "distinct_l2_ids": int(level2.size),
        "distinct_supervoxels": int(supervoxels.size),
    }
    with cave:
        with CAVEclient(
            cave.datastack, server_address=cave.url, auth_token=cave.token, write_server_cache=False
        ) as client:
            config["latest_version"] = int(client.materialize.most_recent_version())
        cave.deployment.request_log.clear()
        yield cave, config
