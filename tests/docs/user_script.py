"""A realistic analysis script, type-checked strictly (basedpyright) and run against LocalCAVE.

It uses every sub-client and the async client the way a scientist would, with the types the client
declares: DataFrames from queries, NumPy id arrays, TypedDict records.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.errors import CAVEError, NotFoundError
from caveclient_gen.records.chunkedgraph import LineageGraph
from caveclient_gen.records.global_services import DatastackInfo
from caveclient_gen.records.tables import TableMetadata, VersionMetadata
from caveclient_gen.services.skeleton import SkeletonDict


def describe_datastack(client: CAVEclient) -> tuple[str, str]:
    info: DatastackInfo = client.info.get_datastack_info()
    local: str = info["local_server"]
    volume = info["aligned_volume"]
    name = volume["name"] if volume is not None else "?"
    print(client.info.get_datastacks(), client.info.segmentation_source(format_for="cloudvolume"))
    print(client.schema.get_schemas()[:3], client.auth.token_source)
    return local, name


def inputs_of_a_neuron(client: CAVEclient, soma_table: str, synapse_table: str) -> pd.DataFrame:
    version: int = client.materialize.most_recent_version()
    meta: VersionMetadata = client.materialize.get_version_metadata(version)
    table_meta: TableMetadata = client.materialize.get_table_metadata(synapse_table)
    print(meta["time_stamp"], table_meta["voxel_resolution"])
    somas: pd.DataFrame = client.materialize.query_table(soma_table, limit=50)
    root_id = int(somas.pt_root_id.iloc[0])
    synapses: pd.DataFrame = client.materialize.query_table(
        synapse_table, filter_equal_dict={"post_pt_root_id": root_id}, split_positions=True
    )
    records: list[dict[str, object]] = client.materialize.query_table(
        soma_table, limit=2, return_df=False
    )
    then = meta["time_stamp"] - timedelta(minutes=1)
    earlier: pd.DataFrame = client.materialize.live_query(soma_table, then, limit=5)
    joined: pd.DataFrame = client.materialize.join_query(
        [[synapse_table, "post_pt_root_id"], [soma_table, "pt_root_id"]], limit=5
    )
    print(len(records), len(earlier), len(joined))
    return synapses


def follow_in_time(client: CAVEclient, supervoxels: npt.NDArray[np.int64]) -> int:
    roots = client.chunkedgraph.get_roots(supervoxels)
    latest = client.chunkedgraph.is_latest_roots(roots)
    root_id = int(roots[0])
    lineage: LineageGraph = client.chunkedgraph.get_lineage_graph(root_id)
    changes: dict[int, pd.DataFrame] = client.chunkedgraph.get_tabular_change_log([root_id])
    l2_ids = client.chunkedgraph.get_leaves(root_id, stop_layer=2)
    features: pd.DataFrame = client.l2cache.get_l2data_table(l2_ids, attributes=["size_nm3"])
    skeleton: SkeletonDict = client.skeleton.get_skeleton(root_id)
    swc: pd.DataFrame = client.skeleton.get_skeleton(root_id, output_format="swc")
    for bulk in client.skeleton.get_bulk_skeletons([root_id]).values():
        if not isinstance(bulk, pd.DataFrame):
            print(len(bulk["vertices"]))
    print(latest.all(), len(lineage["nodes"]), len(changes[root_id]), features.shape)
    print(skeleton["vertices"].shape, len(swc))
    return root_id


def annotate(client: CAVEclient, points: pd.DataFrame) -> list[int]:
    table = client.annotation.create_table(
        "typed_points", "bound_tag", "Points typed by a script", voxel_resolution=[4.0, 4.0, 40.0]
    )
    ids: list[int] = client.annotation.post_annotation_df(
        table, points, position_columns=["pt_position"]
    )
    state_id: int = client.state.upload_state_json({"layers": [], "position": [0, 0, 0]})
    print(client.state.build_neuroglancer_url(state_id, target_site="spelunker"))
    return ids


def run(client: CAVEclient) -> int:
    _, volume = describe_datastack(client)
    info = client.info.get_datastack_info()
    soma_table, synapse_table = info["soma_table"], info["synapse_table"]
    if soma_table is None or synapse_table is None:
        raise ValueError(f"{volume}: no soma or synapse table")
    synapses = inputs_of_a_neuron(client, soma_table, synapse_table)
    root_id = follow_in_time(client, synapses.pre_pt_supervoxel_id.to_numpy()[:10])
    points = pd.DataFrame({"pt_position": [[10, 20, 30]], "tag": ["typed"]})
    annotate(client, points)
    try:
        client.materialize.get_table_metadata("no_such_table")
    except NotFoundError as missing:
        print(missing.status_code)
    except CAVEError as other:
        print(other)
    return root_id


async def run_async(client: AsyncCAVEclient, soma_table: str) -> list[int]:
    tables: list[str] = await client.materialize.get_tables()
    somas: pd.DataFrame = await client.materialize.query_table(soma_table, limit=5)
    supervoxels = [int(sv) for sv in somas.pt_supervoxel_id]
    roots = await client.map(client.chunkedgraph.get_root_id, supervoxels)
    skeleton: SkeletonDict = await client.skeleton.get_skeleton(int(roots[0]))
    print(len(tables), skeleton["edges"].shape)
    return [int(root) for root in roots]
