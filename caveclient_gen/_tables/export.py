"""Exports of whole tables to Parquet datasets: the manifest, the files, and the readers.

An export is a folder (local, or on an object store: `s3://…`, `gs://…`) holding one Parquet file
per partition (`part-00000.parquet`, …) and `_manifest.json`:

* what was asked: datastack, table or view, version or timestamp, filters, columns, resolution;
* the partitions: their ranges of the primary key, the rows the server counted in each, and, once
  written, the rows of the file and their pandas dtypes;
* the rows the server counted for the whole query, and what wrote the export (package, version).

A partition's file is written when its rows arrive and is recorded in the manifest right after, so
an interrupted export keeps what it finished; running the same export again fetches only the rest.
An export whose manifest describes another request is refused, never overwritten.

Positions are stored split, as `<column>_x`, `<column>_y`, `<column>_z` integer (or, converted to
another resolution, float) columns: every engine reads them as plain numbers. Ids keep their
integer types; timestamps are UTC.
"""

from __future__ import annotations

import json
import posixpath
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import ExportMismatchError, IncompleteExportError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.dataset as pa_dataset
    import pyarrow.fs as pa_fs

MANIFEST = "_manifest.json"
FORMAT = "caveclient_gen.export/1"
EXTRAS = {"polars": "polars", "duckdb": "duckdb", "dask": "dask", "s3fs": "s3", "gcsfs": "s3"}


# ---------------------------------------------------------------- where an export lives


@dataclass(frozen=True)
class Location:
    """An export's folder on a filesystem (pyarrow's), and what fsspec needs to reach it."""

    filesystem: pa_fs.FileSystem
    root: str
    url: str
    storage_options: Mapping[str, Any] | None = None

    def path(self, name: str) -> str:
        return posixpath.join(self.root, name) if self.root else name

    def url_of(self, name: str) -> str:
        return self.url.rstrip("/") + "/" + name


def locate(
    path: str | Path, filesystem: Any = None, storage_options: Mapping[str, Any] | None = None
) -> Location:
    """The filesystem and folder of `path`: a local folder, or an object-store URL read through
    pyarrow's filesystems, or fsspec's when `storage_options` (or an fsspec filesystem) is given."""
    import pyarrow.fs as pa_fs

    text = str(path)
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if filesystem is not None:
        if not isinstance(filesystem, pa_fs.FileSystem):
            filesystem = pa_fs.PyFileSystem(pa_fs.FSSpecHandler(filesystem))
        root = text.split("://", 1)[1] if scheme else text
        return Location(filesystem, root.rstrip("/"), text, storage_options)
    if not scheme or scheme == "file":
        local = Path(text.split("://", 1)[1] if scheme else text).expanduser().resolve()
        return Location(pa_fs.LocalFileSystem(), local.as_posix(), local.as_posix(), None)
    if storage_options is not None:
        fsspec = optional_module("fsspec", "s3")
        handler = pa_fs.FSSpecHandler(fsspec.filesystem(scheme, **dict(storage_options)))
        return Location(
            pa_fs.PyFileSystem(handler), text.split("://", 1)[1].rstrip("/"), text, storage_options
        )
    found, root = pa_fs.FileSystem.from_uri(text)
    return Location(found, root.rstrip("/"), text, None)


def optional_module(name: str, extra: str) -> Any:
    """An optional dependency, imported on use, or an ImportError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"this needs the optional package {name!r}: pip install 'caveclient-gen[{extra}]'"
        ) from error


# ---------------------------------------------------------------- the manifest


def jsonable(value: Any) -> Any:
    """A request value as JSON (numpy ids as ints, datetimes as ISO text, tuples as lists)."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(item) for item in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def read_manifest(location: Location) -> dict[str, Any] | None:
    """The manifest of the folder, or None when there is none."""
    import pyarrow.fs as pa_fs

    info = location.filesystem.get_file_info(location.path(MANIFEST))
    if info.type == pa_fs.FileType.NotFound:
        return None
    with location.filesystem.open_input_stream(location.path(MANIFEST)) as stream:
        text = stream.read().decode("utf-8")
    try:
        manifest = json.loads(text)
    except ValueError:
        raise ExportMismatchError(f"{location.url_of(MANIFEST)} is not an export manifest") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportMismatchError(f"{location.url_of(MANIFEST)} is not a caveclient_gen export manifest")
    return manifest


_WRITE_LOCK = threading.Lock()


def write_manifest(location: Location, manifest: dict[str, Any]) -> None:
    """Write the manifest whole (a temporary file moved into place on local disks)."""
    manifest["updated"] = datetime.now(UTC).isoformat()
    data = json.dumps(manifest, indent=1, sort_keys=False).encode("utf-8")
    with _WRITE_LOCK:
        _write_bytes(location, MANIFEST, data)


def _write_bytes(location: Location, name: str, data: bytes) -> None:
    import pyarrow.fs as pa_fs

    filesystem = location.filesystem
    filesystem.create_dir(location.root, recursive=True)
    final = location.path(name)
    if isinstance(filesystem, pa_fs.LocalFileSystem):
        temporary = final + ".partial"
        with filesystem.open_output_stream(temporary) as stream:
            stream.write(data)
        filesystem.move(temporary, final)
        return
    # Object stores publish an object whole when its upload completes.
    with filesystem.open_output_stream(final) as stream:
        stream.write(data)


def new_manifest(
    request: dict[str, Any], partitions: Sequence[Mapping[str, Any]], expected_rows: int | None
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "writer": {"package": "caveclient_gen", "version": __version__},
        "created": datetime.now(UTC).isoformat(),
        "request": request,
        "expected_rows": expected_rows,
        "partitions": [dict(p) for p in partitions],
    }


def check_request(manifest: Mapping[str, Any], request: Mapping[str, Any], url: str) -> None:
    """Refuse to resume an export of another request."""
    recorded = manifest.get("request") or {}
    if recorded == request:
        return
    differing = sorted(
        key for key in set(recorded) | set(request) if recorded.get(key) != request.get(key)
    )
    raise ExportMismatchError(
        f"{url} holds an export of another request (it differs in {', '.join(differing)}); "
        "choose another path, or remove that export first"
    )


def write_partition(location: Location, entry: dict[str, Any], frame: pd.DataFrame) -> None:
    """Write one partition's rows and record them in its manifest entry."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    _write_bytes(location, entry["file"], sink.getvalue().to_pybytes())
    entry["rows"] = len(frame)
    entry["dtypes"] = {str(column): str(dtype) for column, dtype in frame.dtypes.items()}


# ---------------------------------------------------------------- reading


_NULLABLE = {"int64": "Int64", "uint64": "UInt64", "int32": "Int32", "bool": "boolean"}


class TableExport:
    """A table (or view) exported to a Parquet dataset, and its readers.

    Made by `client.materialize.export_table` / `export_view`, or read with
    `client.materialize.open_export(path)`. `complete` tells whether every partition was written
    and the rows add up to the server's count; `missing` lists what an interrupted export lacks.
    """

    def __init__(self, location: Location, manifest: dict[str, Any]) -> None:
        self._location = location
        self.manifest = manifest
        """The manifest as read or written (request, partitions, counts, writer)."""

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{len(self.missing)} partitions missing"
        return f"TableExport({self.url!r}, {self.rows} rows, {state})"

    @classmethod
    def open(
        cls,
        path: str | Path,
        filesystem: Any = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> TableExport:
        """The export at `path`.

        Parameters
        ----------
        path : str or Path
            The export's folder or object-store URL.
        filesystem : pyarrow.fs.FileSystem or fsspec filesystem, optional
            The filesystem to read it through (default: from `path`).
        storage_options : dict, optional
            Options of the fsspec filesystem of the URL (credentials, endpoint).

        Returns
        -------
        TableExport

        Raises
        ------
        FileNotFoundError
            There is no export manifest at `path`.
        ExportMismatchError
            The manifest there is not an export manifest.
        """
        location = locate(path, filesystem, storage_options)
        manifest = read_manifest(location)
        if manifest is None:
            raise FileNotFoundError(f"no export at {location.url} (no {MANIFEST})")
        return cls(location, manifest)

    @property
    def url(self) -> str:
        """Where the export lives."""
        return self._location.url

    @property
    def partitions(self) -> list[dict[str, Any]]:
        """The partitions: file, key range (`low` inclusive, `high` exclusive; None: unbounded),
        rows the server counted (`expected_rows`) and rows written (`rows`, None until written)."""
        return list(self.manifest["partitions"])

    @property
    def missing(self) -> list[dict[str, Any]]:
        """Partitions not written yet (an interrupted export); run the same export to add them."""
        return [p for p in self.partitions if p.get("rows") is None]

    @property
    def rows(self) -> int:
        """Rows written so far."""
        return sum(int(p["rows"]) for p in self.partitions if p.get("rows") is not None)

    @property
    def expected_rows(self) -> int | None:
        """Rows the server counted for the whole query (None where it cannot count: joins)."""
        value = self.manifest.get("expected_rows")
        return None if value is None else int(value)

    @property
    def complete(self) -> bool:
        """Every partition written, each with as many rows as the server counted for its range,
        together as many as the server counted for the whole query."""
        if self.missing:
            return False
        expected = self.expected_rows
        if expected is None:
            return True
        received = [p.get("received_rows") for p in self.partitions]
        return None not in received and sum(int(r) for r in received if r is not None) == expected

    @property
    def files(self) -> list[str]:
        """The written Parquet files (paths on the export's filesystem), in key order."""
        return [self._location.path(p["file"]) for p in self.partitions if p.get("rows") is not None]

    @property
    def urls(self) -> list[str]:
        """The written Parquet files as URLs (or local paths), in key order."""
        return [self._location.url_of(p["file"]) for p in self.partitions if p.get("rows") is not None]

    def _require(self, allow_incomplete: bool) -> None:
        if not allow_incomplete and not self.complete:
            raise IncompleteExportError(
                f"the export at {self.url} is not complete ({len(self.missing)} partitions "
                "missing); run the export again to finish it, or pass allow_incomplete=True"
            )

    def to_arrow(self, allow_incomplete: bool = False) -> pa_dataset.Dataset:
        """The export as a pyarrow dataset (read lazily, file by file).

        Parameters
        ----------
        allow_incomplete : bool, default False
            Read an export that is not complete (only its written partitions).

        Returns
        -------
        pyarrow.dataset.Dataset

        Raises
        ------
        IncompleteExportError
            The export is not complete and `allow_incomplete` is False.
        """
        import pyarrow.dataset as pa_dataset

        self._require(allow_incomplete)
        return pa_dataset.dataset(self.files, format="parquet", filesystem=self._location.filesystem)

    def dtypes(self) -> dict[str, str]:
        """The pandas dtype of each column, as one query of the whole table would give it."""
        found: dict[str, str] = {}
        for partition in self.partitions:
            for column, dtype in (partition.get("dtypes") or {}).items():
                before = found.get(column)
                if before is None or (_NULLABLE.get(before) == dtype):
                    found[column] = dtype
        return found

    def to_pandas(self, allow_incomplete: bool = False) -> pd.DataFrame:
        """The export as one DataFrame, with the dtypes a query of the whole table returns.

        Parameters
        ----------
        allow_incomplete : bool, default False
            Read an export that is not complete (only its written partitions).

        Returns
        -------
        pandas.DataFrame
            Positions as split `_x/_y/_z` columns; every other column with the dtype a query of
            the whole table gives it (recorded per file in the manifest); timestamps UTC.

        Raises
        ------
        IncompleteExportError
            The export is not complete and `allow_incomplete` is False.
        """
        from .frames import arrow_table_to_frame

        table = self.to_arrow(allow_incomplete).to_table()
        frame = arrow_table_to_frame(table)
        wanted = {c: d for c, d in self.dtypes().items() if c in frame and str(frame[c].dtype) != d}
        if wanted:
            frame = frame.astype(wanted)
        return frame

    def to_polars(self, allow_incomplete: bool = False) -> Any:
        """The export as a Polars LazyFrame (needs the `polars` extra).

        Parameters
        ----------
        allow_incomplete : bool, default False
            Read an export that is not complete (only its written partitions).

        Returns
        -------
        polars.LazyFrame

        Raises
        ------
        ImportError
            Polars is not installed (pip install 'caveclient-gen[polars]').
        IncompleteExportError
            The export is not complete and `allow_incomplete` is False.
        """
        polars = optional_module("polars", "polars")
        return polars.scan_pyarrow_dataset(self.to_arrow(allow_incomplete))

    def to_duckdb(self, connection: Any = None, allow_incomplete: bool = False) -> Any:
        """The export as a DuckDB relation, scanned lazily (needs the `duckdb` extra).

        Parameters
        ----------
        connection : duckdb.DuckDBPyConnection, optional
            The connection to make the relation on (default: DuckDB's default connection).
        allow_incomplete : bool, default False
            Read an export that is not complete (only its written partitions).

        Returns
        -------
        duckdb.DuckDBPyRelation

        Raises
        ------
        ImportError
            DuckDB is not installed (pip install 'caveclient-gen[duckdb]').
        IncompleteExportError
            The export is not complete and `allow_incomplete` is False.
        """
        duckdb = optional_module("duckdb", "duckdb")
        dataset = self.to_arrow(allow_incomplete)
        return (connection or duckdb.default_connection()).from_arrow(dataset)

    def to_dask(self, allow_incomplete: bool = False) -> Any:
        """The export as a Dask DataFrame, one partition per file (needs the `dask` extra).

        Object-store exports are read by the workers themselves through fsspec, with the
        `storage_options` the export was opened with.

        Parameters
        ----------
        allow_incomplete : bool, default False
            Read an export that is not complete (only its written partitions).

        Returns
        -------
        dask.dataframe.DataFrame

        Raises
        ------
        ImportError
            Dask is not installed (pip install 'caveclient-gen[dask]').
        IncompleteExportError
            The export is not complete and `allow_incomplete` is False.
        """
        dataframe = optional_module("dask.dataframe", "dask")
        self._require(allow_incomplete)
        options = dict(self._location.storage_options or {})
        frame = dataframe.read_parquet(
            self.urls,
            storage_options=options or None,
            split_row_groups=False,
            aggregate_files=False,
        )
        wanted = {c: d for c, d in self.dtypes().items() if c in frame.columns}
        return frame.astype(wanted) if wanted else frame
