"""Runs a library that takes a caveclient with OUR client, on a LocalCAVE, and prints what each call
gave (and what our client says the answer should be), as JSON.

It runs in an environment of its own (the libraries, with this project on PYTHONPATH), started by
test_downstream.py as:

    python downstream_driver.py LIBRARY SERVER DATASTACK TOKEN WORKDIR

Each call is recorded under its name as {"value": ...} or {"error": "<class>: <message>"}; the
test compares values with the "expected:" entries, computed with our client directly. A guard
refuses every connection to a host other than the loopback, and records the host under
"blocked_hosts": no call may leave the machine.
"""

from __future__ import annotations

import json
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
blocked_hosts: list[str] = []
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in LOOPBACK:
        blocked_hosts.append(name)
        raise OSError(f"the test allows no connection outside the machine (to {name})")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only  # type: ignore[assignment]


def record(results: dict[str, Any], name: str, call: Callable[[], Any]) -> Any:
    try:
        value = call()
    except Exception as error:  # recorded; the test reports it
        results[name] = {"error": f"{type(error).__name__}: {error}"}
        traceback.print_exc(file=sys.stderr)
        return None
    results[name] = {"value": plain(value)}
    return value


def plain(value: Any) -> Any:
    """A JSON-compatible form of a value (numbers, strings, lists, dicts)."""
    from datetime import datetime

    import numpy as np

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


# ---------------------------------------------------------------- what the libraries are given


def synapse_roots(client: Any) -> tuple[int, int]:
    """A current root id with synapses (the oldest one), and an outdated root id (edited since)
    that existed at the same time as the first one for a while."""
    import numpy as np

    synapses = client.materialize.query_table("synapses_pni_2", limit=200)
    roots = np.unique(synapses["pre_pt_root_id"].to_numpy(dtype=np.int64))
    roots = roots[client.chunkedgraph.is_latest_roots(roots)]
    born = client.chunkedgraph.get_root_timestamps(roots)
    root = int(roots[int(np.argmin(born))])
    for candidate in roots:
        past = client.chunkedgraph.get_past_ids([int(candidate)])["past_id_map"]
        earlier = [int(i) for i in past.get(int(candidate), []) if int(i) != int(candidate)]
        if earlier:
            died = client.chunkedgraph.get_root_timestamps(earlier, latest=True)
            for outdated, end in zip(earlier, died, strict=True):
                if end > min(born):
                    return root, outdated
    raise RuntimeError("LocalCAVE has no outdated root id that lived beside the chosen one")


def synapse_count(client: Any, root: int, side: str) -> int:
    frame = client.materialize.synapse_query(**{f"{side}_ids": root})
    return len(frame)


# ---------------------------------------------------------------- one section per library


def nglui(client: Any, results: dict[str, Any], work: str) -> None:
    from nglui.skeletons import SkeletonManager
    from nglui.statebuilder import ViewerState

    client.auth.save_token(client.auth.token, overwrite=True)  # for CloudVolume, below
    root, _ = synapse_roots(client)
    # imagery=False: the datastack's imagery is a public bucket, which the test must not reach.
    state = record(
        results,
        "ViewerState(client).add_layers_from_client().add_segments",
        lambda: ViewerState(client=client).add_layers_from_client(imagery=False).add_segments([root]),
    )
    document = record(results, "ViewerState.to_dict", state.to_dict) if state else None
    if document:
        layers = {layer["type"]: layer for layer in document["layers"]}
        results["layer sources"] = {
            "value": {kind: str(layer.get("source")) for kind, layer in layers.items()}
        }
        results["segments"] = {"value": [str(s) for s in layers["segmentation"].get("segments", [])]}
        results["expected:segments"] = {"value": [str(root)]}
        results["expected:segmentation source"] = {"value": client.info.segmentation_source()}
    viewer = client.server_address + "/viewer/"  # a viewer without version.json: LocalCAVE's 404
    link = record(
        results,
        "ViewerState.to_link_shortener",
        lambda: state.to_link_shortener(client=client, target_url=viewer),
    )
    if link:
        state_id = int(str(link).rstrip("/").rsplit("/", 1)[-1])
        results["stored state"] = {"value": plain(client.state.get_state_json(state_id))}
        results["expected:stored state"] = {"value": plain(json.loads(state.to_json_string()))}
    # isinstance(segmentation_source, caveclient.frameworkclient.CAVEclientFull) is False for our
    # client: the documented workaround passes the segmentation path, and CloudVolume reads the token
    # from the secrets file the client saved.
    record(
        results,
        "SkeletonManager(client) [refused: isinstance check]",
        lambda: SkeletonManager(segmentation_source=client, cloudpath=f"file://{work}/direct"),
    )
    manager = record(
        results,
        "SkeletonManager(client.info.segmentation_source())",
        lambda: SkeletonManager(
            segmentation_source=client.info.segmentation_source(),
            cloudpath=f"file://{work}/skeletons",
            initialize_info=True,
        ),
    )
    if manager is not None:
        results["SkeletonManager.cloudpath"] = {"value": manager.cloudpath}
        info_path = f"{work}/skeletons/info"
        with open(info_path, encoding="utf-8") as handle:
            results["skeleton info written"] = {"value": "skeletons" in json.load(handle)}


def pcg_skel(client: Any, results: dict[str, Any], work: str) -> None:
    import caveclient.frameworkclient
    import pcg_skel as library
    import pcg_skel.pcg_anno

    root, _ = synapse_roots(client)
    skeleton = record(results, "pcg_skeleton", lambda: library.pcg_skeleton(root, client))
    level2 = client.chunkedgraph.get_leaves(root, stop_layer=2)
    if skeleton is not None:
        results["pcg_skeleton vertices"] = {"value": int(skeleton.vertices.shape[0])}
        results["level-2 ids"] = {"value": len(level2)}
    record(
        results,
        "pcg_meshwork(synapses=True) [refused: isinstance check]",
        lambda: library.pcg_meshwork(root, client=client, synapses=True),
    )
    # The one-line workaround of docs/moving-from-caveclient.md: pcg_anno also accepts our client
    # as a full client.
    pcg_skel.pcg_anno.CAVEclientFull = (caveclient.frameworkclient.CAVEclientFull, type(client))
    meshwork = record(
        results,
        "pcg_meshwork(synapses=True)",
        lambda: library.pcg_meshwork(root, client=client, synapses=True),
    )
    if meshwork is not None:
        results["meshwork pre_syn"] = {"value": len(meshwork.anno.pre_syn.df)}
        results["meshwork post_syn"] = {"value": len(meshwork.anno.post_syn.df)}
        results["meshwork mesh vertices"] = {"value": int(meshwork.mesh.vertices.shape[0])}
    results["expected:pre_syn"] = {"value": synapse_count(client, root, "pre")}
    results["expected:post_syn"] = {"value": synapse_count(client, root, "post")}


def cortical_tools(client: Any, results: dict[str, Any], work: str) -> None:
    from cortical_tools.common import DatasetClient

    root, _ = synapse_roots(client)
    dataset = record(
        results, "DatasetClient(caveclient=client)", lambda: DatasetClient(caveclient=client)
    )
    if dataset is None:
        return
    record(results, "DatasetClient.version_timestamp", dataset.version_timestamp)
    results["expected:version_timestamp"] = {
        "value": plain(client.materialize.get_timestamp(client.materialize.version))
    }
    cell = record(results, "DatasetClient.get_skeleton", lambda: dataset.get_skeleton(root))
    if cell is not None:
        results["cell name"] = {"value": int(cell.name)}
        results["cell layers"] = {"value": sorted(cell.layers.names)}
        results["cell pre_syn"] = {"value": len(cell.annotations["pre_syn"].nodes)}
        results["cell post_syn"] = {"value": len(cell.annotations["post_syn"].nodes)}
    results["expected:pre_syn"] = {"value": synapse_count(client, root, "pre")}
    results["expected:post_syn"] = {"value": synapse_count(client, root, "post")}


def fafbseg(client: Any, results: dict[str, Any], work: str) -> None:
    import datetime as dt

    import fafbseg.flywire.utils as flywire_utils
    from fafbseg import flywire

    root, past = synapse_roots(client)
    # fafbseg builds its own caveclient by datastack name; the documented workaround puts ours in
    # its client cache. With a LocalCAVE, the dataset is the segmentation's URL (fafbseg would ask
    # the public global server which datastacks exist otherwise).
    client.auth.save_token(client.auth.token, overwrite=True)  # fafbseg reads it for requests
    dataset = client.info.segmentation_source()
    client._expires_on = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    flywire_utils.cave_clients[dataset] = client
    ids = [root, past]
    record(results, "is_latest_root", lambda: flywire.is_latest_root(ids, dataset=dataset))
    results["expected:is_latest_root"] = {"value": plain(client.chunkedgraph.is_latest_roots(ids))}
    common = record(results, "find_common_time", lambda: flywire.find_common_time(ids, dataset=dataset))
    if common is not None:
        results["common time: both roots exist"] = {
            "value": plain(client.chunkedgraph.is_latest_roots(ids, timestamp=common))
        }
    updated = record(
        results, "update_ids", lambda: flywire.update_ids(ids, dataset=dataset, progress=False)
    )
    if updated is not None:
        results["update_ids new ids"] = {"value": [int(i) for i in updated["new_id"]]}
    latest = client.chunkedgraph.get_latest_roots(past)
    results["expected:latest roots of the outdated id"] = {"value": [int(i) for i in latest]}
    results["expected:root"] = {"value": root}


def navis(client: Any, results: dict[str, Any], work: str) -> None:
    from navis.interfaces import cave_utils

    root, _ = synapse_roots(client)
    record(results, "roots_to_mat", lambda: cave_utils.roots_to_mat([root], client, verbose=False))
    expected = None
    for metadata in sorted(
        client.materialize.get_versions_metadata(), key=lambda m: m["time_stamp"], reverse=True
    ):
        if client.chunkedgraph.is_latest_roots([root], timestamp=metadata["time_stamp"]).all():
            expected = int(metadata["version"])
            break
    results["expected:roots_to_mat"] = {"value": expected}


SECTIONS: dict[str, Callable[[Any, dict[str, Any], str], None]] = {
    "nglui": nglui,
    "pcg_skel": pcg_skel,
    "cortical_tools": cortical_tools,
    "fafbseg": fafbseg,
    "navis": navis,
}


def main() -> int:
    import warnings

    from caveclient_gen import CAVEclient

    library, server, datastack, token, work = sys.argv[1:6]
    warnings.simplefilter("ignore")  # libraries' deprecation notes are not what is tested
    results: dict[str, Any] = {}
    with CAVEclient(
        datastack, server_address=server, auth_token=token, write_server_cache=False
    ) as client:
        SECTIONS[library](client, results, work)
    results["blocked_hosts"] = {"value": sorted(set(blocked_hosts))}
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
