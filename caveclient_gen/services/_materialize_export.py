"""`export_table` / `export_view`: a query's every row written to a Parquet dataset, resumably.

The export runs the query method itself (query_table or query_view, with `all_rows=True`), first
to plan the partitions, then once per file with exactly that file's partitions, so each file holds
what the same query returns for those ranges (checks, decoding, client-side filters, live updates
and dtypes included). The partitions of one file are fetched concurrently, and each file is written
on a thread while the next one's rows arrive: memory holds two files' rows at most, whatever the
size of the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _defaults
from .._http.plan import Plan
from .._tables.export import (
    TableExport,
    check_request,
    jsonable,
    locate,
    new_manifest,
    read_manifest,
    write_manifest,
    write_partition,
)
from .._tables.partitions import KeyRange, Partition
from ..errors import CAVEError, InvalidInputError
from ._materialize_whole import PARTITION_MODE, Planned, PlannedPartitions, PlanOnly

if TYPE_CHECKING:
    import pandas as pd

QueryPlan = Callable[..., Plan[Any]]
logger = logging.getLogger("caveclient_gen")


def export_plan(
    query: QueryPlan,
    *,
    kind: str,
    name: str,
    datastack: str,
    version: int | None,
    latest_version: Callable[[], Plan[int]],
    timestamp: Any,
    path: str | Path,
    arguments: Mapping[str, Any],
    filesystem: Any,
    storage_options: Mapping[str, Any] | None,
    partition_rows: int | None,
    files_concurrency: int,
    progress: bool,
) -> Plan[TableExport]:
    """Write (or resume) the export of one query; `query(**arguments)` is the query's plan."""
    if partition_rows is not None and (
        isinstance(partition_rows, bool) or not isinstance(partition_rows, int) or partition_rows < 1
    ):
        raise InvalidInputError("partition_rows", f"must be a positive integer, not {partition_rows!r}")
    location = locate(path, filesystem, storage_options)
    manifest = read_manifest(location)
    if version is None and timestamp is None:
        if manifest is not None:
            # Resuming: the version the export was started with, not a newer one.
            version = (manifest.get("request") or {}).get("materialization_version")
        if version is None:
            version = yield from latest_version()
    request = jsonable(
        {
            "datastack": datastack,
            "kind": kind,
            "name": name,
            "materialization_version": version,
            "timestamp": timestamp,
            "query": {k: v for k, v in arguments.items() if v is not None},
        }
    )
    settled = dict(arguments)
    if kind == "table":
        settled["timestamp"] = timestamp
    if timestamp is None:
        settled["materialization_version"] = version
    if manifest is not None:
        check_request(manifest, request, location.url)
    else:
        token = PARTITION_MODE.set(PlanOnly(partition_rows or _defaults.EXPORT_PARTITION_ROWS))
        try:
            yield from query(**settled, all_rows=True)
        except PlannedPartitions as planned:
            manifest = _planned_manifest(request, planned, max(1, files_concurrency))
        finally:
            PARTITION_MODE.reset(token)
        if manifest is None:
            raise CAVEError("the query planned no partitions")
        write_manifest(location, manifest)
    export = TableExport(location, manifest)
    present = _present_files(location)
    todo = [e for e in manifest["partitions"] if e.get("rows") is None or e["file"] not in present]
    bar = _progress(len(todo), f"export {name}", progress)
    for entry in todo:
        entry["rows"] = None
    # One file is written (on a thread) while the next one's partitions are fetched: memory holds
    # at most two files' rows.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caveclient_gen-export")
    pending: tuple[dict[str, Any], Future[None]] | None = None
    try:
        for entry in todo:
            parts = [
                Partition(KeyRange(int(low), int(high)), count) for low, high, count in entry["ranges"]
            ]
            token = PARTITION_MODE.set(Planned(parts))
            try:
                frame: pd.DataFrame = yield from query(**settled, all_rows=True, split_positions=True)
            finally:
                PARTITION_MODE.reset(token)
            if pending is not None:
                _finish(location, manifest, *pending)
                bar(1)
            pending = (entry, writer.submit(write_partition, location, entry, frame))
            del frame
        if pending is not None:
            _finish(location, manifest, *pending)
            pending = None
            bar(1)
    finally:
        if pending is not None:
            # Interrupted: keep the file being written, if it completes.
            try:
                _finish(location, manifest, *pending)
            except Exception as error:  # the interruption is the error to report
                logger.warning("the last file of the export was not written: %s", error)
        writer.shutdown(wait=True)
        bar(0, close=True)
    return export


def _finish(
    location: Any, manifest: dict[str, Any], entry: dict[str, Any], written: Future[None]
) -> None:
    """Wait for a file's write, then record it in the manifest."""
    written.result()
    entry["received_rows"] = entry.get("expected_rows")
    write_manifest(location, manifest)


def _planned_manifest(
    request: dict[str, Any], planned: PlannedPartitions, per_file: int
) -> dict[str, Any]:
    from .._tables.partitions import KEY_END, KEY_LOWEST

    entries = []
    parts = planned.partitions
    for index, start in enumerate(range(0, len(parts), per_file)):
        group = parts[start : start + per_file]
        counts = [p.expected for p in group]
        entries.append(
            {
                "file": f"part-{index:05d}.parquet",
                "low": None if group[0].keys.low == KEY_LOWEST else group[0].keys.low,
                "high": None if group[-1].keys.high == KEY_END else group[-1].keys.high,
                "expected_rows": None if None in counts else sum(c or 0 for c in counts),
                "ranges": [[p.keys.low, p.keys.high, p.expected] for p in group],
                "rows": None,
            }
        )
    manifest = new_manifest(request, entries, planned.total if planned.exact else None)
    manifest["key"] = {"table": planned.key_table, "column": "id"}
    return manifest


def _present_files(location: Any) -> set[str]:
    import pyarrow.fs as pa_fs

    selector = pa_fs.FileSelector(location.root, allow_not_found=True)
    return {
        info.base_name
        for info in location.filesystem.get_file_info(selector)
        if info.type == pa_fs.FileType.File
    }


def _progress(total: int, description: str, enabled: bool) -> Callable[..., None]:
    """A tqdm.auto bar over the files of an export (when asked, and the client's progress switch,
    `caveclient_gen._http.progress`, allows bars)."""
    if not enabled or total < 2:
        return lambda *_, **__: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=description, unit="file", leave=False)

    def advance(step: int, close: bool = False) -> None:
        if step:
            bar.update(step)
        if close:
            bar.close()

    return advance
