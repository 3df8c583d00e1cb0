"""Whole tables as Parquet datasets: what `client.materialize.export_table` returns.

export = client.materialize.export_table("synapses", "s3://bucket/synapses_v943")
export.complete            # every partition written, rows equal to the server's count
export.to_polars()         # a LazyFrame; also to_pandas, to_arrow, to_duckdb, to_dask
"""

from __future__ import annotations

from ._tables.export import TableExport
from .errors import ExportMismatchError, IncompleteExportError

__all__ = ["ExportMismatchError", "IncompleteExportError", "TableExport"]
