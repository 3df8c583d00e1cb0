"""Process-wide HTTP defaults for clients created later: caveclient's `set_session_defaults` and
`get_session_defaults`, with the same parameters, mapped onto this client's settings.

| caveclient parameter | here |
|---|---|
| `max_retries` | retries after the first attempt (`_defaults.MAX_RETRIES`) |
| `pool_block` | kept and reported; httpx always waits for a free connection, up to the pool timeout |
| `pool_maxsize` | connections per client (`_defaults.POOL_MAXSIZE`) |
| `backoff_factor` | wait before the first retry, doubling after (`_defaults.BACKOFF_INITIAL`) |
| `backoff_max` | longest backoff wait (`_defaults.BACKOFF_MAX`) |
| `status_forcelist` | statuses retried for reads (`_defaults.RETRY_STATUSES_READ`); writes: 429 only |

The defaults of the parameters are this client's own defaults (from `_defaults`), so calling
`set_session_defaults()` with no argument restores them, as in caveclient.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from .. import _defaults
from ..errors import InvalidInputError

_lock = threading.Lock()
_current: dict[str, Any] = {}


def set_session_defaults(
    max_retries: int = _defaults.MAX_RETRIES,
    pool_block: bool = False,
    pool_maxsize: int = _defaults.POOL_MAXSIZE,
    backoff_factor: float = _defaults.BACKOFF_INITIAL,
    backoff_max: float = _defaults.BACKOFF_MAX,
    status_forcelist: Collection[int] | None = tuple(sorted(_defaults.RETRY_STATUSES_READ)),
) -> None:
    """Set the HTTP defaults of every client created after this call (not of existing ones).

    A value given to a client (`CAVEclient(max_retries=..., pool_maxsize=...)`) wins over these.
    Calling it without arguments restores the built-in defaults; any argument left out is reset
    to its built-in default, as in caveclient.

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt of a request that failed in a retryable way (0: none).
    pool_block : bool
        Accepted for caveclient compatibility and reported by `get_session_defaults`; a request
        always waits for a free connection of the pool (up to the pool timeout).
    pool_maxsize : int
        Connections kept open per client, shared by its sub-clients.
    backoff_factor : float
        Seconds to wait before the first retry; each later wait doubles (with jitter).
    backoff_max : float
        Longest wait between two attempts, in seconds.
    status_forcelist : collection of int or None
        HTTP statuses retried for reads (GETs and read-only queries). None: no status is
        retried. Writes are retried only on 429, whatever this says.

    Raises
    ------
    ValueError
        A value of the wrong type or out of range (caught as ValueError; an InvalidInputError
        naming the parameter).
    """

    def non_negative_number(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidInputError(name, f"must be a number of seconds >= 0, not {value!r}")
        return float(value)

    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidInputError("max_retries", f"must be an integer >= 0, not {max_retries!r}")
    if isinstance(pool_maxsize, bool) or not isinstance(pool_maxsize, int) or pool_maxsize < 1:
        raise InvalidInputError("pool_maxsize", f"must be an integer >= 1, not {pool_maxsize!r}")
    if not isinstance(pool_block, bool):
        raise InvalidInputError("pool_block", f"must be True or False, not {pool_block!r}")
    backoff = non_negative_number("backoff_factor", backoff_factor)
    longest = non_negative_number("backoff_max", backoff_max)
    statuses: tuple[int, ...] = ()
    if status_forcelist is not None:
        if isinstance(status_forcelist, str | bytes) or not all(
            isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599
            for status in status_forcelist
        ):
            raise InvalidInputError(
                "status_forcelist", f"must be HTTP status codes, not {status_forcelist!r}"
            )
        statuses = tuple(status_forcelist)
    with _lock:
        _current.update(
            max_retries=max_retries,
            pool_block=pool_block,
            pool_maxsize=pool_maxsize,
            backoff_factor=backoff,
            backoff_max=longest,
            status_forcelist=statuses,
        )


def get_session_defaults() -> dict[str, Any]:
    """The HTTP defaults clients created now start from (a copy).

    Returns
    -------
    dict
        Keys `max_retries`, `pool_block`, `pool_maxsize`, `backoff_factor`, `backoff_max` and
        `status_forcelist`, as set by `set_session_defaults`.
    """
    with _lock:
        return dict(_current)


set_session_defaults()
