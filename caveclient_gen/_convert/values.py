"""Checking and converting the values users pass: ids, timestamps, bounds, resolutions.

Everything here raises InvalidInputError naming the parameter, before any request is sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

UINT64_MAX = 2**64 - 1


def as_id_array(parameter: str, values: Any, *, allow_empty: bool = True) -> npt.NDArray[np.uint64]:
    """Ids as a uint64 array, refusing what would lose precision or wrap around.

    Accepts an int, a sequence of ints, a numpy integer array (any integer dtype), or a pandas
    Series/Index of integers. Floats, negative numbers, and values beyond uint64 are refused.
    """
    import numpy as np

    if isinstance(values, bool):
        raise InvalidInputError(parameter, "must be ids (integers), not a bool")
    if isinstance(values, int | np.integer):
        values = [values]
    elif isinstance(values, str | bytes | Mapping) or not hasattr(values, "__len__"):
        if isinstance(values, Iterable) and not isinstance(values, str | bytes | Mapping):
            values = list(values)
        else:
            raise InvalidInputError(parameter, f"must be ids (integers), not {type(values).__name__}")
    if isinstance(values, list | tuple):
        kinds = set(map(type, values))  # at C speed: bools would pass as the ids 0 and 1
        if bool in kinds or np.bool_ in kinds:
            raise InvalidInputError(parameter, "holds a bool (True/False), which is not an id")
    try:
        array = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidInputError(parameter, f"is not a list of ids ({error})") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidInputError(parameter, f"must be a flat list of ids, not shape {array.shape}")
    if array.size == 0:
        if not allow_empty:
            raise InvalidInputError(parameter, "must not be empty")
        return np.zeros(0, dtype=np.uint64)
    if array.dtype == np.bool_:
        raise InvalidInputError(parameter, "holds bools, not ids")
    if array.dtype == np.uint64:
        return array
    if np.issubdtype(array.dtype, np.signedinteger) or np.issubdtype(array.dtype, np.unsignedinteger):
        if np.issubdtype(array.dtype, np.signedinteger) and (array < 0).any():
            raise InvalidInputError(parameter, f"holds a negative id: {int(array.min())}")
        return array.astype(np.uint64)
    if array.dtype == object:
        return _object_ids(parameter, array)
    if isinstance(values, list | tuple) and _all_integers(values):
        # numpy reads a list mixing ids below and above 2**63 as float64: decode it exactly instead.
        exact = np.empty(len(values), dtype=object)
        exact[:] = [int(value) for value in values]
        return _object_ids(parameter, exact)
    raise InvalidInputError(
        parameter, f"must hold integer ids, not {array.dtype} values (floats lose id precision)"
    )


def _object_ids(parameter: str, array: Any) -> npt.NDArray[np.uint64]:
    import numpy as np

    result = np.empty(array.size, dtype=np.uint64)
    for index, value in enumerate(array.tolist()):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(parameter, f"{value!r} is not an integer id")
        if not 0 <= value <= UINT64_MAX:
            raise InvalidInputError(parameter, f"{value} is outside the uint64 id range")
        result[index] = value
    return result


def as_id(parameter: str, value: Any) -> int:
    """One id as a Python int."""
    ids = as_id_array(parameter, value, allow_empty=False)
    if ids.size != 1:
        raise InvalidInputError(parameter, "must be a single id")
    return int(ids[0])


def as_utc(parameter: str, value: Any) -> datetime | None:
    """A timezone-aware datetime in UTC, or None. Naive datetimes are refused: they are ambiguous."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(parameter, f"{value!r} is not an ISO 8601 timestamp") from None
    elif type(value).__module__.startswith("pandas") and hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise InvalidInputError(
            parameter, f"must be a timezone-aware datetime, not {type(value).__name__}"
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInputError(
            parameter,
            f"{value.isoformat()} has no timezone; pass an aware datetime such as "
            "datetime(..., tzinfo=timezone.utc) so the moment is unambiguous",
        )
    return value.astimezone(UTC)


def epoch_seconds(parameter: str, value: Any) -> float | None:
    """POSIX seconds of a timestamp (what the chunkedgraph expects), or None."""
    moment = as_utc(parameter, value)
    return None if moment is None else moment.timestamp()


def from_epoch_seconds(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def as_bounds(parameter: str, bounds: Any) -> str | None:
    """A 3x2 box [[xmin, xmax], [ymin, ymax], [zmin, zmax]] as "xmin-xmax_ymin-ymax_zmin-zmax"."""
    if bounds is None:
        return None
    import numpy as np

    if holds_bool(bounds):
        raise InvalidInputError(parameter, "holds a bool (True/False), not a coordinate")
    try:
        array = np.asarray(bounds)
    except (TypeError, ValueError):
        array = np.asarray([])
    if array.shape != (3, 2) or not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise InvalidInputError(
            parameter,
            f"must be a 3x2 array [[xmin, xmax], [ymin, ymax], [zmin, zmax]], not {array.shape}",
        )
    if not np.isfinite(array).all():
        raise InvalidInputError(parameter, "holds NaN or infinite coordinates")
    if (array[:, 0] > array[:, 1]).any():
        raise InvalidInputError(parameter, "each row must be [min, max]")
    return "_".join(f"{int(low)}-{int(high)}" for low, high in array)


def as_resolution(parameter: str, value: Any) -> list[float] | None:
    """A voxel resolution [x, y, z] in nanometres, or None."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise InvalidInputError(parameter, "must be three numbers [x, y, z]") from None
    if len(numbers) != 3 or not all(n > 0 for n in numbers):
        raise InvalidInputError(parameter, "must be three positive numbers [x, y, z] (nm)")
    return numbers


def _all_integers(values: list[Any] | tuple[Any, ...]) -> bool:
    import numpy as np

    return all(isinstance(value, int | np.integer) and not isinstance(value, bool) for value in values)


def as_timeout(parameter: str, value: Any) -> float:
    """A timeout in seconds: a finite positive number (bools and strings refused)."""
    if isinstance(value, bool) or (not isinstance(value, int | float) and not _is_numpy_real(value)):
        raise InvalidInputError(parameter, f"must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(parameter, f"must be a finite positive number of seconds, not {value}")
    return seconds


def _is_numpy_real(value: Any) -> bool:
    module = type(value).__module__
    return module == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"


JSON_SCALARS = (str, int, float, bool, type(None))


def check_json(parameter: str, value: Any, *, allow_nan: bool = False) -> None:
    """Refuse what JSON cannot encode, naming the parameter and where inside it the value sits.

    Accepts dicts with string keys, lists, tuples, strings, ints, bools, None and floats (finite
    ones unless `allow_nan`). Sets, bytes, numpy or other objects are refused: convert them first.
    """
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        current, path, depth = pending.pop()
        where = f"{parameter}{path}"
        if depth > 100:
            raise InvalidInputError(where, "is nested too deeply to be sent as JSON")
        if isinstance(current, float):
            if not allow_nan and not math.isfinite(current):
                raise InvalidInputError(where, f"{current} cannot be sent: JSON has no NaN or infinity")
        elif isinstance(current, JSON_SCALARS):
            continue
        elif isinstance(current, dict):
            for key, item in current.items():
                if not isinstance(key, str):
                    raise InvalidInputError(where, f"has a key {key!r} that is not a string")
                pending.append((item, f"{path}[{key!r}]", depth + 1))
        elif isinstance(current, list | tuple):
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(current))
        else:
            raise InvalidInputError(
                where, f"holds a {type(current).__name__}, which cannot be sent as JSON"
            )


def holds_bool(value: Any, depth: int = 0) -> bool:
    """Whether a (nested) list or tuple of numbers holds a bool, which numpy would read as 0 or 1."""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return True
    if isinstance(value, np.ndarray):
        return bool(value.dtype == np.bool_)
    if isinstance(value, list | tuple) and depth < 4:
        return any(holds_bool(item, depth + 1) for item in value)
    return False
