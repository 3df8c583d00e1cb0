"""The DataFrame of `get_l2data_table`: one row per level-2 id, NaN where the cache has no value.

Array-valued features can be split into one scalar column each, named as caveclient names them.
Rows the cache does not know (yet), and features it left out, are NaN: never uninitialised memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

SPLIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "rep_coord_nm": ("rep_coord_nm_x", "rep_coord_nm_y", "rep_coord_nm_z"),
    "pca": tuple(f"pca_{row}_{axis}" for row in range(3) for axis in "xyz"),
    "pca_val": ("pca_val_0", "pca_val_1", "pca_val_2"),
    "chunk_intersect_count": tuple(
        f"chunk_intersect_count_{axis}_{side}" for side in ("bottom", "top") for axis in "xyz"
    ),
}
"""Array features and the scalar columns they are split into (row-major), in caveclient's order."""


def l2data_frame(
    l2_ids: npt.NDArray[np.uint64],
    data: Mapping[str, Mapping[str, Any]],
    attributes: Sequence[str] | None,
    split_columns: bool,
) -> pd.DataFrame:
    """The features of `l2_ids` (rows in that order) from `get_l2data`'s answer."""
    import pandas as pd

    records = [data.get(str(l2_id)) or {} for l2_id in l2_ids.tolist()]
    names = _attribute_names(records, attributes)
    columns: dict[str, Any] = {}
    for name in names:
        if name in SPLIT_COLUMNS and split_columns:
            continue
        if name in SPLIT_COLUMNS:
            columns[name] = _array_column(records, name)
        else:
            columns[name] = _scalar_column(records, name)
    if split_columns:
        for name, split_names in SPLIT_COLUMNS.items():
            if name in names:
                values = _split_values(records, name, len(split_names))
                for position, split_name in enumerate(split_names):
                    columns[split_name] = values[:, position]
    index = pd.Index(l2_ids, dtype="uint64", name="l2_id")
    return pd.DataFrame(columns, index=index)


def _attribute_names(records: list[Mapping[str, Any]], attributes: Sequence[str] | None) -> list[str]:
    """The features in the order the answer gives them (caveclient's column order), then any asked
    for that no record holds."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    names.update(dict.fromkeys(attributes or ()))
    return list(names)


def _scalar_column(records: list[Mapping[str, Any]], name: str) -> npt.NDArray[np.float64]:
    import numpy as np

    column = np.full(len(records), np.nan)
    for row, record in enumerate(records):
        value = record.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            column[row] = value
    return column


def _array_column(records: list[Mapping[str, Any]], name: str) -> npt.NDArray[np.object_]:
    import numpy as np

    # The feature as the service answered it (a list, nested for pca), as caveclient's cells are.
    column = np.empty(len(records), dtype=object)
    for row, record in enumerate(records):
        value = record.get(name)
        column[row] = np.nan if value is None else value
    return column


def _split_values(records: list[Mapping[str, Any]], name: str, width: int) -> npt.NDArray[np.float64]:
    import numpy as np

    values = np.full((len(records), width), np.nan)
    for row, record in enumerate(records):
        value = record.get(name)
        if value is None:
            continue
        flat = np.asarray(value, dtype=np.float64).ravel()[:width]
        values[row, : flat.size] = flat
    return values
