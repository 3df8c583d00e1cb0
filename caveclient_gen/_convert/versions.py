"""Server version strings ("0.23.11") as comparable values, without a `packaging` dependency.

Only the numeric release part matters for the feature checks CAVE clients make; anything after it
("0.23.11.dev1", "2.21.1+local", "1.0rc2") is kept in the text but ignored when comparing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

RELEASE = re.compile(r"^\s*v?(?P<release>\d+(?:\.\d+)*)")


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class ServerVersion:
    """A server version: compares by its numeric release (0.9 == 0.9.0 < 0.10.0).

    It also compares with version strings, tuples of ints and `packaging.version.Version`
    objects, so `client.skeleton.get_version() >= Version("0.6.0")` keeps working.
    """

    text: str
    release: tuple[int, ...]

    @property
    def major(self) -> int:
        return self.release[0]

    @property
    def minor(self) -> int:
        return self.release[1] if len(self.release) > 1 else 0

    @property
    def micro(self) -> int:
        return self.release[2] if len(self.release) > 2 else 0

    def _key(self) -> tuple[int, ...]:
        return _padded(self.release)

    def __eq__(self, other: object) -> bool:
        release = _release_of(other)
        if release is None:
            return NotImplemented
        return self._key() == _padded(release)

    def __lt__(self, other: Any) -> bool:
        release = _release_of(other)
        if release is None:
            return NotImplemented
        return self._key() < _padded(release)

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text


def parse_version(text: str) -> ServerVersion | None:
    """The version in `text`, or None when it does not start with a dotted number."""
    match = RELEASE.match(text)
    if match is None:
        return None
    release = tuple(int(part) for part in match["release"].split("."))
    return ServerVersion(text.strip(), release)


def _release_of(value: object) -> tuple[int, ...] | None:
    if isinstance(value, ServerVersion):
        return value.release
    if isinstance(value, tuple) and value and all(isinstance(part, int) for part in value):
        return value
    if isinstance(value, str) or type(value).__module__.startswith("packaging"):
        parsed = parse_version(str(value))
        return parsed.release if parsed is not None else None
    return None


def _padded(release: tuple[int, ...]) -> tuple[int, ...]:
    """Trailing zeros dropped, so 0.9 and 0.9.0 compare equal."""
    end = len(release)
    while end > 1 and release[end - 1] == 0:
        end -= 1
    return release[:end]
