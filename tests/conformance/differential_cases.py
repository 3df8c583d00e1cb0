"""Parameter combinations for the differential test: the data-returning methods that caveclient
8.2.1 and our client should answer alike, called with arguments drawn by a seeded generator.

A case is JSON (it crosses into caveclient's environment as a file): `id` (readable, unique),
`call` ("service.method"), `args` and `kwargs` in the form caveclient_driver.decoded reads
({"$time": iso} a datetime, naive when the text has no offset; {"$array": [...], "dtype": ...} a
numpy array; {"$numpy": n, "dtype": ...} a numpy scalar; {"$tuple": [...]} a tuple). The cases
depend only on SEED and the world's picks, so a failing id names the same call on every run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

SEED = 20261202

SYNAPSES = "synapses_pni_2"
NUCLEI = "nucleus_detection_v0"
REFERENCE = "allen_soma_coarse_cell_class_model_v2"
VIEW = "single_neurons"

CASES_PER_METHOD = {
    "materialize.query_table": 48,
    "materialize.live_query": 16,
    "materialize.join_query": 12,
    "materialize.query_view": 14,
    "materialize.synapse_query": 16,
    "chunkedgraph.get_roots": 10,
    "chunkedgraph.get_leaves": 6,
    "chunkedgraph.get_root_timestamps": 6,
    "chunkedgraph.is_latest_roots": 5,
    "chunkedgraph.get_latest_roots": 5,
    "chunkedgraph.get_past_ids": 6,
    "chunkedgraph.get_lineage_graph": 8,
    "chunkedgraph.get_delta_roots": 4,
    "chunkedgraph.get_change_log": 3,
    "chunkedgraph.get_tabular_change_log": 3,
    "l2cache.get_l2data": 4,
    "l2cache.get_l2data_table": 6,
    "materialize.live_live_query": 8,
    "chunkedgraph.get_root_id": 5,
    "chunkedgraph.get_leaves_many": 4,
    "chunkedgraph.is_valid_nodes": 4,
    "chunkedgraph.get_original_roots": 3,
    "chunkedgraph.suggest_latest_roots": 8,
}
"""How many drawn cases each method gets (fixed cases come on top: see build_cases)."""


@dataclass(frozen=True)
class World:
    """What the cases are drawn from, picked from LocalCAVE by the test."""

    synapse_roots: list[int]
    """Current roots with synapses, most synapses first."""
    nucleus_roots: list[int]
    past_roots: list[int]
    """Roots current at `past`, some of them retired since."""
    supervoxels: list[int]
    old_root: int
    heavy_root: int
    leaves_root: int
    leaves_bounds: list[list[int]]
    """3x2 voxel bounds around part of `leaves_root`."""
    synapse_box: list[list[int]]
    """[[min], [max]] voxels around some synapses' post_pt_position."""
    nucleus_box: list[list[int]]
    versions: list[int]
    version_times: list[datetime]
    past: datetime
    """Between two edits, after the oldest valid version."""
    later: datetime
    """Between two later edits."""
    annotation_ids: list[int]
    contact: tuple[int, list[list[int]]]
    """A root and 3x2 voxel bounds in which it touches exactly two other pieces."""
    l2_ids: list[int]
    """Level-2 ids the cache holds."""


ELSEWHERE = timezone(timedelta(hours=-7))
"""An offset other than UTC, for aware timestamps that are not in UTC."""


def at(moment: datetime, *, naive: bool = False, elsewhere: bool = False) -> dict[str, str]:
    if naive:
        return {"$time": moment.replace(tzinfo=None).isoformat()}
    return {"$time": (moment.astimezone(ELSEWHERE) if elsewhere else moment).isoformat()}


def uint64s(ids: list[int]) -> dict[str, Any]:
    return {"$array": ids, "dtype": "uint64"}


def int64s(ids: list[int] | list[list[int]]) -> dict[str, Any]:
    return {"$array": ids, "dtype": "int64"}


def label(value: Any) -> str:
    """A short readable form of an argument, for case ids."""
    if isinstance(value, dict):
        if "$time" in value:
            text = value["$time"]
            if text.endswith("+00:00"):
                return "time"
            return "time-07:00" if text.endswith("-07:00") else "naive-time"
        if "$array" in value:
            return f"{value['dtype']}[{len(value['$array'])}]"
        if "$numpy" in value:
            return f"{value['dtype']}"
        if "$tuple" in value:
            return "(" + ",".join(label(item) for item in value["$tuple"]) + ")"
        return "{" + ",".join(f"{key}:{label(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        if len(value) > 3:
            return f"list[{len(value)}]"
        return "[" + ",".join(label(item) for item in value) + "]"
    if isinstance(value, str) and len(value) > 14:
        return value[:12] + "…"
    return str(value)


class Draw:
    """The seeded choices of one generator run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def one(self, options: list[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def some(self, options: list[Any], most: int) -> list[Any]:
        count = self.rng.randint(0, min(most, len(options)))
        return self.rng.sample(options, count)


def timestamp_choice(draw: Draw, world: World, *, none: float = 0.6) -> Any:
    """None (now), a moment between edits (aware or naive), or a version's moment."""
    if draw.chance(none):
        return None
    kind = draw.one(["past", "past", "later", "naive", "version", "elsewhere"])
    if kind == "naive":
        return at(world.past, naive=True)
    if kind == "elsewhere":
        return at(world.past, elsewhere=True)
    if kind == "version":
        return at(draw.one(world.version_times))
    return at(world.past if kind == "past" else world.later)


def table_filters(world: World, table: str) -> list[tuple[str, str, Any]]:
    """(filter parameter, column, value) choices per table."""
    roots = world.synapse_roots
    choices: dict[str, list[tuple[str, str, Any]]] = {
        SYNAPSES: [
            ("filter_in_dict", "pre_pt_root_id", roots[:3]),
            ("filter_in_dict", "pre_pt_root_id", uint64s(roots[:2])),
            ("filter_in_dict", "post_pt_root_id", roots[1:4]),
            ("filter_out_dict", "post_pt_root_id", roots[:1]),
            ("filter_equal_dict", "pre_pt_root_id", roots[0]),
            ("filter_equal_dict", "pre_pt_root_id", {"$numpy": roots[1], "dtype": "uint64"}),
            ("filter_greater_dict", "size", 400),
            ("filter_less_dict", "size", 120),
            ("filter_greater_equal_dict", "id", 50),
            ("filter_less_equal_dict", "id", 3000),
            ("filter_spatial_dict", "post_pt_position", world.synapse_box),
        ],
        NUCLEI: [
            ("filter_in_dict", "pt_root_id", world.nucleus_roots[:6]),
            ("filter_out_dict", "pt_root_id", world.nucleus_roots[:2]),
            ("filter_greater_dict", "volume", 250.0),
            ("filter_less_dict", "volume", 300),
            ("filter_spatial_dict", "pt_position", world.nucleus_box),
            ("filter_less_equal_dict", "id", 73300),
        ],
        REFERENCE: [
            ("filter_equal_dict", "cell_type", "23P"),
            ("filter_in_dict", "cell_type", ["BC", "MC", "4P"]),
            ("filter_out_dict", "classification_system", ["aibs_coarse_nonneuronal"]),
            ("filter_regex_dict", "cell_type", "^[456]P"),
            ("filter_greater_dict", "id", 100),
        ],
        VIEW: [
            ("filter_in_dict", "pt_root_id", world.nucleus_roots[:8]),
            ("filter_equal_dict", "cell_type", "23P"),
            ("filter_greater_dict", "volume", 200),
            ("filter_regex_dict", "classification_system", "excit"),
            ("filter_spatial_dict", "pt_position", world.nucleus_box),
        ],
    }
    return choices[table]


COLUMNS = {
    SYNAPSES: [
        ["id", "pre_pt_root_id", "post_pt_root_id", "size"],
        ["post_pt_position", "id", "size"],
        ["id", "ctr_pt_position", "valid"],
    ],
    NUCLEI: [["id", "pt_root_id", "volume"], ["pt_position", "id", "pt_root_id"]],
    REFERENCE: [["id", "target_id", "cell_type"], ["id", "cell_type", "classification_system"]],
    VIEW: [["id", "pt_root_id", "cell_type"], ["pt_position", "id", "volume"]],
}


def filters_of(draw: Draw, world: World, table: str, most: int) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for parameter, column, value in draw.some(table_filters(world, table), most):
        chosen.setdefault(parameter, {})[column] = value
    return chosen


def resolution(draw: Draw) -> Any:
    return draw.one([None, None, [1, 1, 1], [4, 4, 40], {"$tuple": [8, 8, 40]}])


def drop_none(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if value is not None}


def query_table_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    table = draw.one([SYNAPSES, SYNAPSES, NUCLEI, REFERENCE])
    kwargs = filters_of(draw, world, table, 2)
    if draw.chance(0.4):
        columns = draw.one(COLUMNS[table])
        kwargs["select_columns"] = {table: columns} if draw.chance(0.3) else columns
    # An unfiltered synapse table is large: bounded by a limit.
    kwargs["limit"] = draw.one([None, 1, 7, 40] if kwargs or table != SYNAPSES else [5, 40])
    kwargs["offset"] = draw.one([None, None, None, 3])
    kwargs["desired_resolution"] = resolution(draw)
    kwargs["split_positions"] = draw.one([None, False, True])
    kwargs["metadata"] = draw.one([None, True, False])
    if table == REFERENCE:
        kwargs["merge_reference"] = draw.one([None, True, False])
    kwargs["return_df"] = draw.one([None, None, None, False])
    kwargs["timestamp"] = timestamp_choice(draw, world, none=0.7)
    if kwargs["timestamp"] is None:
        kwargs["materialization_version"] = draw.one([None, None, *world.versions])
    kwargs["get_counts"] = True if draw.chance(0.06) else None
    return [table], drop_none(kwargs)


def live_query_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    table = draw.one([SYNAPSES, NUCLEI, REFERENCE])
    moment = draw.one(
        [at(world.past), at(world.past), at(world.later), at(world.version_times[-1]),
         at(world.past, naive=True), at(world.later, elsewhere=True)]
    )  # fmt: skip
    kwargs = filters_of(draw, world, table, 1)
    if table == SYNAPSES and "filter_in_dict" not in kwargs:
        kwargs["filter_in_dict"] = {"post_pt_root_id": world.past_roots}
    if table == NUCLEI and draw.chance(0.5):
        kwargs.setdefault("filter_in_dict", {})["pt_root_id"] = world.past_roots
    if draw.chance(0.4):
        kwargs["select_columns"] = draw.one(COLUMNS[table])
    kwargs["limit"] = draw.one([None, None, 10])
    kwargs["desired_resolution"] = resolution(draw)
    kwargs["split_positions"] = draw.one([None, False, True])
    kwargs["metadata"] = draw.one([None, True, False])
    if table == REFERENCE:
        kwargs["merge_reference"] = draw.one([None, True, False])
    return [table, moment], drop_none(kwargs)


def join_query_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    tables = [[REFERENCE, "target_id"], [NUCLEI, "id"]]
    kwargs: dict[str, Any] = {}
    for table in (REFERENCE, NUCLEI):
        for parameter, filters in filters_of(draw, world, table, 1).items():
            kwargs.setdefault(parameter, {})[table] = filters
    if draw.chance(0.5):
        kwargs["suffixes"] = draw.one([{REFERENCE: "", NUCLEI: "_nuc"}, {REFERENCE: "_a", NUCLEI: "_b"}])
    if draw.chance(0.4):
        kwargs["select_columns"] = {REFERENCE: ["cell_type", "target_id"], NUCLEI: ["id", "volume"]}
    kwargs["limit"] = draw.one([None, None, 15])
    kwargs["desired_resolution"] = resolution(draw)
    kwargs["split_positions"] = draw.one([None, False, True])
    kwargs["metadata"] = draw.one([None, True, False])
    kwargs["materialization_version"] = draw.one([None, None, *world.versions])
    kwargs["return_df"] = draw.one([None, None, None, None, False])
    return [tables], drop_none(kwargs)


def query_view_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    kwargs = filters_of(draw, world, VIEW, 2)
    if draw.chance(0.4):
        kwargs["select_columns"] = draw.one(COLUMNS[VIEW])
    kwargs["limit"] = draw.one([None, None, 3, 25])
    kwargs["offset"] = draw.one([None, None, None, 2])
    kwargs["desired_resolution"] = resolution(draw)
    kwargs["split_positions"] = draw.one([None, False, True])
    kwargs["metadata"] = draw.one([None, True, False])
    kwargs["return_df"] = draw.one([None, None, None, False])
    kwargs["materialization_version"] = draw.one([None, None, *world.versions])
    kwargs["get_counts"] = True if draw.chance(0.08) else None
    return [VIEW], drop_none(kwargs)


def synapse_query_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    roots = world.synapse_roots
    kwargs: dict[str, Any] = {
        "pre_ids": draw.one([None, roots[0], roots[:2], uint64s(roots[1:3]), int64s(roots[:1])]),
        "post_ids": draw.one([None, None, roots[1], roots[:3]]),
    }
    if kwargs["pre_ids"] is None and kwargs["post_ids"] is None:
        kwargs["pre_ids"] = roots[2]
    if draw.chance(0.3):
        kwargs["bounding_box"] = world.synapse_box
        kwargs["bounding_box_column"] = draw.one([None, "post_pt_position", "pre_pt_position"])
    kwargs["remove_autapses"] = draw.one([None, True, False])
    kwargs["include_zeros"] = draw.one([None, True, False])
    kwargs["limit"] = draw.one([None, None, 8])
    kwargs["split_positions"] = draw.one([None, False, True])
    kwargs["desired_resolution"] = resolution(draw)
    kwargs["timestamp"] = timestamp_choice(draw, world, none=0.7)
    if kwargs["timestamp"] is None:
        kwargs["materialization_version"] = draw.one([None, None, *world.versions])
    kwargs["metadata"] = draw.one([None, True, False])
    return [], drop_none(kwargs)


def get_roots_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    start = draw.rng.randrange(0, len(world.supervoxels) - 40)
    ids = world.supervoxels[start : start + draw.one([1, 5, 40])]
    form = draw.one([ids, uint64s(ids), int64s(ids), ids[0]])
    kwargs = {
        "timestamp": timestamp_choice(draw, world, none=0.4),
        "stop_layer": draw.one([None, None, 2, 3, 6]),
    }
    return [form], drop_none(kwargs)


def get_leaves_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    root = draw.one(
        [world.leaves_root, world.leaves_root, {"$numpy": world.leaves_root, "dtype": "uint64"}]
    )
    kwargs = {
        "bounds": draw.one(
            [None, world.leaves_bounds, {"$array": world.leaves_bounds, "dtype": "int64"}]
        ),
        "stop_layer": draw.one([None, 2, 3]),
    }
    return [root], drop_none(kwargs)


def mixed_roots(draw: Draw, world: World) -> Any:
    roots = sorted({*world.synapse_roots[:3], *world.past_roots[:3], world.old_root, world.heavy_root})
    return draw.one([roots, uint64s(roots), roots[:1]])


def get_root_timestamps_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    kwargs = {
        "latest": draw.one([None, False, True]),
        "timestamp": timestamp_choice(draw, world, none=0.5),
    }
    return [mixed_roots(draw, world)], drop_none(kwargs)


def is_latest_roots_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    return [mixed_roots(draw, world)], drop_none({"timestamp": timestamp_choice(draw, world, none=0.4)})


def get_latest_roots_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    root = draw.one([world.old_root, world.past_roots[0], world.heavy_root])
    return [root], drop_none({"timestamp": timestamp_choice(draw, world, none=0.5)})


def get_past_ids_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    roots = draw.one([[world.heavy_root, *world.synapse_roots[:2]], uint64s([world.heavy_root])])
    kwargs = {
        "timestamp_past": draw.one(
            [None, at(world.past), at(world.version_times[0]), at(world.past, naive=True)]
        ),
        "timestamp_future": draw.one([None, None, at(world.later)]),
    }
    return [roots], drop_none(kwargs)


def get_lineage_graph_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    root = draw.one([world.heavy_root, world.old_root, [world.heavy_root, world.synapse_roots[0]]])
    kwargs = {
        "timestamp_past": draw.one([None, at(world.past), at(world.version_times[0])]),
        "timestamp_future": draw.one([None, None, at(world.later)]),
        "exclude_links_to_future": draw.one([None, True]),
        "exclude_links_to_past": draw.one([None, True]),
        "as_nx_graph": draw.one([None, None, True]),
    }
    return [root], drop_none(kwargs)


def get_delta_roots_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    past = draw.one([at(world.past), at(world.version_times[0]), at(world.past, naive=True)])
    return [past], drop_none({"timestamp_future": draw.one([None, at(world.later)])})


def get_change_log_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    root = draw.one([world.heavy_root, world.old_root, world.synapse_roots[0]])
    return [root], drop_none({"filtered": draw.one([None, True, False])})


def get_tabular_change_log_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    roots = draw.one([[world.heavy_root], [world.heavy_root, world.leaves_root], world.heavy_root])
    return [roots], drop_none({"filtered": draw.one([None, True, False])})


L2_ATTRIBUTES = ["area_nm2", "size_nm3", "rep_coord_nm", "pca", "pca_val", "max_dt_nm"]


def get_l2data_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    ids = world.l2_ids[: draw.one([1, 4, len(world.l2_ids)])]
    form = draw.one([ids, uint64s(ids)])
    return [form], drop_none({"attributes": draw.one([None, draw.some(L2_ATTRIBUTES, 3) or None])})


def get_l2data_table_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    args, kwargs = get_l2data_case(draw, world)
    kwargs["split_columns"] = draw.one([None, True, False])
    return args, drop_none(kwargs)


def live_live_query_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    table = draw.one([NUCLEI, SYNAPSES, REFERENCE])
    moment = draw.one([at(world.version_times[-1]), at(world.later)])
    kwargs: dict[str, Any] = {}
    for parameter, filters in filters_of(draw, world, table, 1).items():
        kwargs[parameter] = {table: filters}
    if table == SYNAPSES and not kwargs:
        kwargs["filter_in_dict"] = {table: {"pre_pt_root_id": world.synapse_roots[:2]}}
    if draw.chance(0.4):
        kwargs["select_columns"] = {table: draw.one(COLUMNS[table])}
    kwargs["limit"] = draw.one([None, 12])
    kwargs["desired_resolution"] = resolution(draw)
    kwargs["split_positions"] = draw.one([None, False, True])
    kwargs["metadata"] = draw.one([None, True, False])
    return [table, moment], drop_none(kwargs)


def get_root_id_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    supervoxel = draw.one(world.supervoxels[:20])
    form = draw.one([supervoxel, {"$numpy": supervoxel, "dtype": "uint64"}])
    kwargs = {
        "timestamp": timestamp_choice(draw, world, none=0.5),
        "level2": draw.one([None, True, False]),
    }
    return [form], drop_none(kwargs)


def get_leaves_many_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    roots = draw.one([[world.leaves_root], [world.leaves_root, world.synapse_roots[0]]])
    kwargs = {
        "bounds": draw.one([None, {"$array": world.leaves_bounds, "dtype": "int64"}]),
        "stop_layer": draw.one([2, 3, None]),
    }
    if kwargs["bounds"] is None and kwargs["stop_layer"] is None:
        kwargs["stop_layer"] = 3  # every supervoxel of two neurons is a large answer
    return [draw.one([roots, uint64s(roots)])], drop_none(kwargs)


def is_valid_nodes_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    ids = [*world.past_roots[:2], world.heavy_root, world.supervoxels[0], 5]
    kwargs = {
        "start_timestamp": draw.one([None, at(world.version_times[0])]),
        "end_timestamp": draw.one([None, at(world.past), at(world.later)]),
    }
    return [draw.one([ids, uint64s(ids)])], drop_none(kwargs)


def get_original_roots_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    root = draw.one([world.heavy_root, world.synapse_roots[0], [world.heavy_root, world.leaves_root]])
    return [root], drop_none({"timestamp_past": draw.one([None, at(world.past)])})


def suggest_latest_roots_case(draw: Draw, world: World) -> tuple[list[Any], dict[str, Any]]:
    kwargs = {
        "timestamp": draw.one([None, at(world.later)]),
        "stop_layer": draw.one([None, 3, 5]),
        "return_all": draw.one([None, True, False]),
        "return_fraction_overlap": draw.one([None, True, False]),
    }
    return [draw.one([world.old_root, world.past_roots[0]])], drop_none(kwargs)


DRAWN: dict[str, Callable[[Draw, World], tuple[list[Any], dict[str, Any]]]] = {
    "materialize.query_table": query_table_case,
    "materialize.live_query": live_query_case,
    "materialize.join_query": join_query_case,
    "materialize.query_view": query_view_case,
    "materialize.synapse_query": synapse_query_case,
    "chunkedgraph.get_roots": get_roots_case,
    "chunkedgraph.get_leaves": get_leaves_case,
    "chunkedgraph.get_root_timestamps": get_root_timestamps_case,
    "chunkedgraph.is_latest_roots": is_latest_roots_case,
    "chunkedgraph.get_latest_roots": get_latest_roots_case,
    "chunkedgraph.get_past_ids": get_past_ids_case,
    "chunkedgraph.get_lineage_graph": get_lineage_graph_case,
    "chunkedgraph.get_delta_roots": get_delta_roots_case,
    "chunkedgraph.get_change_log": get_change_log_case,
    "chunkedgraph.get_tabular_change_log": get_tabular_change_log_case,
    "l2cache.get_l2data": get_l2data_case,
    "l2cache.get_l2data_table": get_l2data_table_case,
    "materialize.live_live_query": live_live_query_case,
    "chunkedgraph.get_root_id": get_root_id_case,
    "chunkedgraph.get_leaves_many": get_leaves_many_case,
    "chunkedgraph.is_valid_nodes": is_valid_nodes_case,
    "chunkedgraph.get_original_roots": get_original_roots_case,
    "chunkedgraph.suggest_latest_roots": suggest_latest_roots_case,
}


def fixed_cases(world: World) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """Metadata reads, once per table and version: few enough to list."""
    cases: list[tuple[str, list[Any], dict[str, Any]]] = [
        ("materialize.get_tables", [], {}),
        ("annotation.get_tables", [], {}),
        ("annotation.get_annotation", [SYNAPSES, world.annotation_ids], {}),
        ("annotation.get_annotation", [SYNAPSES, world.annotation_ids[0]], {}),
        ("materialize.get_version_metadata", [], {}),
        ("materialize.get_timestamp", [], {}),
        ("materialize.get_tables_metadata", [], {}),
        ("materialize.get_views", [], {}),
        ("materialize.get_view_metadata", [VIEW], {}),
        ("materialize.get_view_schema", [VIEW], {}),
        ("materialize.get_unique_string_values", [REFERENCE], {}),
        ("materialize.get_versions", [], {"expired": True}),
        ("chunkedgraph.get_children", [world.heavy_root], {}),
        ("chunkedgraph.get_root_timestamps", [[]], {}),
        ("chunkedgraph.get_roots", [[]], {}),
        ("chunkedgraph.get_leaves_many", [[]], {}),
        ("chunkedgraph.get_lineage_graph", [[]], {}),
        ("chunkedgraph.get_past_ids", [[]], {}),
        ("chunkedgraph.is_latest_roots", [[]], {}),
        ("chunkedgraph.get_contact_sites", [world.contact[0], int64s(world.contact[1])], {}),
        (
            "chunkedgraph.get_contact_sites",
            [world.contact[0], int64s(world.contact[1])],
            {"calc_partners": True},
        ),
        ("chunkedgraph.get_contact_sites", [world.leaves_root, int64s(world.leaves_bounds)], {}),
        # Queries that match nothing: the dtypes of empty frames.
        ("materialize.query_table", [NUCLEI], {"filter_greater_dict": {"volume": 1e9}}),
        ("materialize.live_query", [SYNAPSES, at(world.past)], {"filter_greater_dict": {"size": 1e9}}),
        ("materialize.query_view", [VIEW], {"filter_greater_dict": {"volume": 1e9}}),
        (
            "materialize.join_query",
            [[[REFERENCE, "target_id"], [NUCLEI, "id"]]],
            {"filter_greater_dict": {NUCLEI: {"volume": 1e9}}, "split_positions": True},
        ),
        (
            "materialize.synapse_query",
            [],
            {"pre_ids": world.synapse_roots[0], "post_ids": world.synapse_roots[0]},
        ),
    ]
    for version in world.versions:
        cases.append(("materialize.get_tables", [], {"version": version}))
        cases.append(("materialize.get_version_metadata", [], {"version": version}))
        cases.append(("materialize.get_timestamp", [], {"version": version}))
    for table in (SYNAPSES, NUCLEI, REFERENCE):
        cases.append(("materialize.get_table_metadata", [table], {}))
        cases.append(("materialize.get_table_metadata", [table], {"version": world.versions[0]}))
        cases.append(("materialize.get_annotation_count", [table], {}))
        cases.append(("annotation.get_table_metadata", [table], {}))
        cases.append(("annotation.get_annotation_count", [table], {}))
    return cases


def refused_cases(world: World) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """Calls both clients should fail on (unknown names, ids, versions, out-of-range arguments),
    for the classes of the errors: a caveclient user's `except` clause must catch ours."""
    long_ago = at(datetime(2019, 1, 1, tzinfo=world.past.tzinfo))
    return [
        ("materialize.query_table", ["no_such_table"], {}),
        ("materialize.query_table", [SYNAPSES], {"filter_in_dict": {"no_such_column": [1]}}),
        ("materialize.query_table", [SYNAPSES], {"limit": 0}),
        ("materialize.query_table", [NUCLEI], {"materialization_version": 999}),
        ("materialize.query_table", [NUCLEI], {"select_columns": ["id", "no_such_column"]}),
        ("materialize.live_query", [NUCLEI, long_ago], {}),
        ("materialize.query_view", ["no_such_view"], {}),
        ("materialize.get_table_metadata", ["no_such_table"], {}),
        ("materialize.join_query", [[[REFERENCE, "target_id"], [NUCLEI, "no_such_column"]]], {}),
        ("annotation.get_table_metadata", ["no_such_table"], {}),
        ("annotation.get_annotation", [SYNAPSES, [10**9]], {}),
        ("chunkedgraph.get_leaves", [5], {}),
        ("chunkedgraph.get_roots", [world.supervoxels[:3]], {"stop_layer": 20}),
        ("chunkedgraph.get_root_timestamps", [[5]], {}),
        ("chunkedgraph.get_lineage_graph", [5], {}),
        ("chunkedgraph.get_change_log", [5], {}),
        ("chunkedgraph.get_delta_roots", [at(world.later)], {"timestamp_future": at(world.past)}),
        ("l2cache.get_l2data", [world.l2_ids[:1]], {"attributes": ["no_such_attribute"]}),
    ]


PINNED_CASES = {
    "materialize.query_table": 6,
    "materialize.synapse_query": 4,
    "materialize.query_view": 3,
    "materialize.join_query": 2,
    "chunkedgraph.get_roots": 3,
    "chunkedgraph.get_root_id": 2,
    "chunkedgraph.is_latest_roots": 2,
    "chunkedgraph.get_leaves": 2,
    "chunkedgraph.get_past_ids": 2,
}
"""Cases run on a client pinned to the oldest version (`CAVEclient(..., version=N)`), drawn without
a version or moment of their own: the pinned version's applies."""

NM_CASES = {
    "materialize.query_table": 5,
    "materialize.query_view": 2,
    "materialize.join_query": 2,
    "materialize.synapse_query": 2,
    "materialize.live_query": 2,
}
"""Cases run on a client made with `desired_resolution=[1, 1, 1]`, drawn without a resolution of
their own: the client's applies."""

UNPINNED = ("materialization_version", "timestamp", "timestamp_past", "timestamp_future")

PINNED_FIXED: list[tuple[str, list[Any], dict[str, Any]]] = [
    ("materialize.get_tables", [], {}),
    ("materialize.get_timestamp", [], {}),
    ("materialize.get_table_metadata", [SYNAPSES], {}),
    ("materialize.get_annotation_count", [SYNAPSES], {}),
    ("materialize.get_version_metadata", [], {}),
]


def case_id(call: str, number: int, args: list[Any], kwargs: dict[str, Any]) -> str:
    parts = [label(arg) for arg in args]
    parts += [
        f"{key.removeprefix('filter_').removesuffix('_dict')}={label(value)}"
        for key, value in kwargs.items()
    ]
    return f"{call}#{number:02d}(" + ", ".join(parts) + ")"


def build_cases(world: World, seed: int = SEED) -> list[dict[str, Any]]:
    """Every case, in a fixed order: the fixed reads and refused calls, each method's drawn cases,
    then those on the pinned client and on the client with a desired resolution."""
    cases = []
    for number, (call, args, kwargs) in enumerate([*fixed_cases(world), *refused_cases(world)]):
        cases.append(
            {"id": case_id(call, number, args, kwargs), "call": call, "args": args, "kwargs": kwargs}
        )
    for call, count in CASES_PER_METHOD.items():
        draw = Draw(seed + sum(map(ord, call)))  # a method's cases do not move when another's do
        seen: set[str] = set()
        number = 0
        for _ in range(count * 4):
            if number == count:
                break
            args, kwargs = DRAWN[call](draw, world)
            key = repr((args, sorted(kwargs.items())))
            if key in seen:
                continue
            seen.add(key)
            cases.append(
                {"id": case_id(call, number, args, kwargs), "call": call, "args": args, "kwargs": kwargs}
            )
            number += 1
    pinned = list(PINNED_FIXED)
    for call, count in PINNED_CASES.items():
        draw = Draw(seed + 1 + sum(map(ord, call)))
        for _ in range(count):
            args, kwargs = DRAWN[call](draw, world)
            pinned.append(
                (call, args, {key: value for key, value in kwargs.items() if key not in UNPINNED})
            )
    for number, (call, args, kwargs) in enumerate(pinned):
        name = "pinned:" + case_id(call, number, args, kwargs)
        cases.append({"id": name, "call": call, "args": args, "kwargs": kwargs, "client": "pinned"})
    number = 0
    for call, count in NM_CASES.items():
        draw = Draw(seed + 2 + sum(map(ord, call)))
        for _ in range(count):
            args, kwargs = DRAWN[call](draw, world)
            kwargs.pop("desired_resolution", None)
            name = "nm:" + case_id(call, number, args, kwargs)
            cases.append({"id": name, "call": call, "args": args, "kwargs": kwargs, "client": "nm"})
            number += 1
    return cases
