"""export_table / export_view against LocalCAVE with a small row cap: files and manifest, equality
with the in-memory query, resumption after an interruption (requests counted), refusal of a
mismatched manifest, completeness, and every engine's reader."""

from __future__ import annotations

import importlib
import itertools
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from caveclient_gen import CAVEclient, CAVEServerWarning, ServerError
from caveclient_gen.export import ExportMismatchError, IncompleteExportError, TableExport
from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.materialize import queries
from caveclient_gen.testing.materialize.settings import configure_materialization
from caveclient_gen.testing.materialize.versions import MaterializationTimeline

SYNAPSES = "synapses_pni_2"
VIEW = "single_neurons"
CAP = 200
ROWS = 150


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    cave = LocalCAVE(seed=13)
    configure_materialization(cave.deployment, synapse_count=1_500, query_limit_size=CAP)
    return cave


@pytest.fixture(autouse=True)
def probe_small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learn the row cap first even for these small tables (big ones always do)."""
    from caveclient_gen._tables import partitions

    monkeypatch.setattr(partitions, "PROBE_MINIMUM", 100)


@pytest.fixture
def client(cave: LocalCAVE) -> Iterator[CAVEclient]:
    with CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
        max_retries=0,
    ) as cave_client:
        yield cave_client


def query_requests(cave: LocalCAVE) -> int:
    return sum(1 for method, path in cave.deployment.request_log if path.endswith("/query"))


def test_export_writes_files_and_a_manifest_equal_to_the_query(
    client: CAVEclient, cave: LocalCAVE, tmp_path: Path
) -> None:
    export = client.materialize.export_table(SYNAPSES, tmp_path / "syn", partition_rows=ROWS)
    whole = client.materialize.query_table(SYNAPSES, split_positions=True, all_rows=True)
    assert isinstance(whole, pd.DataFrame)
    assert export.complete
    assert not export.missing
    assert export.rows == len(whole) == export.expected_rows
    pd.testing.assert_frame_equal(export.to_pandas(), whole.reset_index(drop=True))
    manifest = json.loads((tmp_path / "syn" / "_manifest.json").read_text())
    assert manifest["request"]["datastack"] == cave.datastack
    assert manifest["request"]["name"] == SYNAPSES
    assert manifest["request"]["materialization_version"] == client.materialize.version
    assert manifest["writer"]["package"] == "caveclient_gen"
    assert manifest["key"] == {"table": SYNAPSES, "column": "id"}
    files = sorted(p.name for p in (tmp_path / "syn").glob("part-*.parquet"))
    assert files == [p["file"] for p in manifest["partitions"]]
    assert len(files) > 1
    for partition in manifest["partitions"]:
        assert partition["rows"] == partition["expected_rows"] == partition["received_rows"]
        assert all(count <= ROWS for _, _, count in partition["ranges"])
    # Key ranges of the manifest are contiguous and each file's ids lie inside its range.
    ranges = [(p["low"], p["high"]) for p in manifest["partitions"]]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    for partition in manifest["partitions"]:
        ids = pd.read_parquet(tmp_path / "syn" / partition["file"], columns=["id"])["id"]
        assert partition["low"] is None or ids.min() >= partition["low"]
        assert partition["high"] is None or ids.max() < partition["high"]
    opened = client.materialize.open_export(tmp_path / "syn")
    assert opened.complete
    assert opened.rows == export.rows


def test_an_interrupted_export_resumes_with_the_missing_files_only(
    client: CAVEclient, cave: LocalCAVE, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = queries.MaterializeQueries.simple_query
    answered = {"data": 0}

    def failing_after_two_files(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments, body = args[3], args[4]
        ranged = "filter_less_dict" in body or "filter_greater_equal_dict" in body
        if not arguments.count and ranged:
            answered["data"] += 1
            if answered["data"] > 8:  # two files of four partitions each
                raise RuntimeError("the database went away")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(queries.MaterializeQueries, "simple_query", failing_after_two_files)
    target = tmp_path / "resumed"
    with pytest.raises(ServerError):
        client.materialize.export_table(SYNAPSES, target, partition_rows=ROWS, progress=False)
    monkeypatch.setattr(queries.MaterializeQueries, "simple_query", real)

    interrupted = TableExport.open(target)
    assert not interrupted.complete
    assert len(interrupted.partitions) - len(interrupted.missing) == 2
    with pytest.raises(IncompleteExportError, match="not complete"):
        interrupted.to_pandas()
    partial = interrupted.to_pandas(allow_incomplete=True)
    assert len(partial) == interrupted.rows > 0

    missing_partitions = sum(len(p["ranges"]) for p in interrupted.missing)
    before = query_requests(cave)
    resumed = client.materialize.export_table(SYNAPSES, target, partition_rows=ROWS, progress=False)
    assert query_requests(cave) - before == missing_partitions  # no recount, no refetch
    assert resumed.complete
    whole = client.materialize.query_table(SYNAPSES, split_positions=True, all_rows=True)
    pd.testing.assert_frame_equal(resumed.to_pandas(), whole.reset_index(drop=True))
    # A complete export run again sends no query at all.
    before = query_requests(cave)
    client.materialize.export_table(SYNAPSES, target, partition_rows=ROWS, progress=False)
    assert query_requests(cave) == before


def test_an_export_of_another_request_is_refused_and_left_alone(
    client: CAVEclient, tmp_path: Path
) -> None:
    target = tmp_path / "one"
    first = client.materialize.export_table(
        SYNAPSES, target, filter_greater_dict={"size": 100}, partition_rows=ROWS
    )
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    with pytest.raises(ExportMismatchError, match="query"):
        client.materialize.export_table(SYNAPSES, target, filter_greater_dict={"size": 101})
    with pytest.raises(ExportMismatchError, match="materialization_version"):
        client.materialize.export_table(
            SYNAPSES, target, filter_greater_dict={"size": 100}, materialization_version=2
        )
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before
    assert first.complete
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "_manifest.json").write_text("{}")
    with pytest.raises(ExportMismatchError, match="not a caveclient_gen export"):
        client.materialize.export_table(SYNAPSES, tmp_path / "other")


def test_export_view_timestamp_and_filters(client: CAVEclient, cave: LocalCAVE, tmp_path: Path) -> None:
    view = client.materialize.export_view(VIEW, tmp_path / "view", partition_rows=4)
    single = client.materialize.query_view(VIEW, split_positions=True)
    assert isinstance(single, pd.DataFrame)
    assert view.complete
    assert len(view.partitions) > 1
    pd.testing.assert_frame_equal(view.to_pandas(), single.reset_index(drop=True))

    timeline = cave.deployment.component(MaterializationTimeline)
    moment = max(timeline.version_times.values()).replace(tzinfo=UTC) + timedelta(minutes=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CAVEServerWarning)
        live = client.materialize.export_table(
            SYNAPSES,
            tmp_path / "live",
            timestamp=moment,
            partition_rows=ROWS,
            filter_greater_dict={"size": 50},
            select_columns=["id", "pre_pt_root_id", "size"],
        )
        expected = client.materialize.query_table(
            SYNAPSES,
            timestamp=moment,
            split_positions=True,
            all_rows=True,
            filter_greater_dict={"size": 50},
            select_columns=["id", "pre_pt_root_id", "size"],
        )
    assert live.complete
    assert live.manifest["request"]["timestamp"] == moment.isoformat()
    pd.testing.assert_frame_equal(live.to_pandas(), expected.reset_index(drop=True))


# dask's own calls into pandas draw pandas' deprecation warnings.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_every_engine_reads_the_same_rows(client: CAVEclient, tmp_path: Path) -> None:
    import duckdb
    import polars as pl

    export = client.materialize.export_table(SYNAPSES, tmp_path / "engines", partition_rows=ROWS)
    frame = export.to_pandas()
    queried = client.materialize.query_table(SYNAPSES, split_positions=True, all_rows=True)
    assert isinstance(queried, pd.DataFrame)
    assert dict(frame.dtypes) == dict(queried.dtypes)  # ids and timestamps as queries give them
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    dataset = export.to_arrow()
    assert dataset.count_rows() == len(frame)
    assert len(dataset.files) == len(export.partitions)

    lazy = export.to_polars()
    assert isinstance(lazy, pl.LazyFrame)
    big = lazy.filter(pl.col("size") > 100).select("id").collect()
    assert sorted(big["id"].to_list()) == sorted(frame.loc[frame["size"] > 100, "id"].tolist())

    relation = export.to_duckdb(duckdb.connect())
    total = relation.aggregate("count(*) AS n, sum(id) AS s").fetchall()
    assert total == [(len(frame), int(frame["id"].sum()))]

    dask_frame = export.to_dask()
    assert dask_frame.npartitions == len(export.partitions)
    computed = dask_frame.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(computed, frame)


def test_missing_engines_name_their_extra(
    client: CAVEclient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = client.materialize.export_table(SYNAPSES, tmp_path / "extra", partition_rows=ROWS * 10)
    real_import = importlib.import_module

    def without(name: str, package: str | None = None) -> Any:
        if name.split(".", maxsplit=1)[0] in {"polars", "duckdb", "dask"}:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", without)
    for reader, extra in (
        (export.to_polars, "polars"),
        (export.to_duckdb, "duckdb"),
        (export.to_dask, "dask"),
    ):
        with pytest.raises(ImportError, match=rf"caveclient-gen\[{extra}\]"):
            reader()
