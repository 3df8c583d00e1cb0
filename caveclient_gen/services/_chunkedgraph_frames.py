"""DataFrames of the chunkedgraph's edit history, from its column-oriented pandas JSON.

The server serialises frames with `DataFrame.to_json()`: `{"<column>": {"<row>": value, ...}, ...}`,
with times as epoch milliseconds. Here rows come back in the server's row order, operation ids as
int64, flags as bools. `get_user_operations` frames have times as UTC-aware datetimes and root id
lists as uint64 arrays; `get_tabular_change_log` frames are as caveclient 8.2.1 builds them with
`pd.DataFrame(...)`: the server's row labels (text) as index, times as epoch milliseconds (int64),
root id lists as lists of ints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._convert.ids import ids_from_json
from ..errors import UnexpectedResponseError

if TYPE_CHECKING:
    import pandas as pd

TIME_COLUMNS = frozenset({"timestamp"})
ID_LIST_COLUMNS = frozenset({"before_root_ids", "after_root_ids"})
FLAG_COLUMNS = frozenset({"is_merge", "in_neuron", "is_relevant"})
OPERATION_COLUMNS = frozenset({"operation_id"})


def frame_from_json_text(text: str, what: str, *, as_sent: bool = False) -> pd.DataFrame:
    """A frame the server sent as a JSON string inside a JSON document."""
    try:
        columns = json.loads(text)
    except (TypeError, ValueError) as error:
        raise UnexpectedResponseError(f"{what}: not a JSON-encoded table ({error})") from None
    return frame_from_columns(columns, what, as_sent=as_sent)


def frame_from_columns(columns: Any, what: str, *, as_sent: bool = False) -> pd.DataFrame:
    """A frame from column-oriented JSON (`{column: {row: value}}`).

    With `as_sent`, times stay epoch milliseconds, id lists stay lists and the index is the
    server's row labels, as caveclient's `get_tabular_change_log` returns them."""
    import pandas as pd

    if not isinstance(columns, Mapping) or not all(
        isinstance(column, Mapping) for column in columns.values()
    ):
        raise UnexpectedResponseError(f"{what}: expected {{column: {{row: value}}}}")
    rows = _row_keys(columns.values(), ordered=not as_sent)
    data = {
        str(name): _column(str(name), [column.get(row) for row in rows], what, as_sent=as_sent)
        for name, column in columns.items()
    }
    index = pd.Index(rows, dtype=object) if as_sent else pd.RangeIndex(len(rows))
    return pd.DataFrame(data, index=index)


def _row_keys(columns: Any, *, ordered: bool) -> list[str]:
    keys: dict[str, None] = {}
    for column in columns:
        keys.update(dict.fromkeys(column))
    if ordered and all(key.lstrip("-").isdigit() for key in keys):
        return sorted(keys, key=int)
    return list(keys)


def _column(name: str, values: list[Any], what: str, *, as_sent: bool) -> Any:
    import numpy as np
    import pandas as pd

    if as_sent and name in TIME_COLUMNS and all(isinstance(value, int) for value in values):
        return np.array(values, dtype=np.int64)
    if as_sent and name in ID_LIST_COLUMNS:
        column = np.empty(len(values), dtype=object)
        for index, value in enumerate(values):
            column[index] = ids_from_json(value, f"{what}: {name}").tolist()
        return column
    if name in TIME_COLUMNS:
        if all(isinstance(value, int | float) or value is None for value in values):
            milliseconds = pd.Series(values, dtype="float64")
            moments = pd.to_datetime(milliseconds, unit="ms", utc=True)
        else:
            moments = pd.to_datetime(pd.Series(values, dtype="object"), utc=True, format="ISO8601")
        # Nanoseconds, as caveclient's frames have them (pandas 3 would infer microseconds).
        return moments.dt.as_unit("ns").array
    if name in OPERATION_COLUMNS and all(isinstance(value, int) for value in values):
        return np.array(values, dtype=np.int64)
    if name in ID_LIST_COLUMNS:
        column = np.empty(len(values), dtype=object)
        for index, value in enumerate(values):
            column[index] = ids_from_json(value, f"{what}: {name}")
        return column
    if name in FLAG_COLUMNS and all(isinstance(value, bool) for value in values):
        return np.array(values, dtype=bool)
    return pd.Series(values, dtype="object").infer_objects().array
