"""Where a client's services live: the global server, and each datastack's local server.

The global server (auth, info, schema, state) is the `server_address` argument, else the datastack's
entry in the map shared with caveclient (`~/.cloudvolume/secrets/cave_datastack_to_server_map.json`),
else the public default. The datastack's record from the info service names its local server
(chunkedgraph, materialize, annotation, L2 cache, skeletons), its aligned volume and its segmentation
source; it is fetched on first need and kept. Both server addresses are registered as CAVE servers of
the session, so they — and only they — receive the token.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _defaults
from .._http.parse import optional, parsed
from .._http.plan import Plan, fetch, read
from .._http.session import Session
from .._http.single_flight import MISSING, Flights
from ..errors import (
    BadRequestError,
    CAVEError,
    CAVEStatusError,
    GlobalClientError,
    InvalidInputError,
    NotFoundError,
)
from .tokens import secrets_directory

if TYPE_CHECKING:
    from caveclient_gen_api.info.client import Client as InfoAPI

logger = logging.getLogger("caveclient_gen")

DatastackRecord = dict[str, Any]

UNKNOWN_RESOURCE = frozenset({"invalid_table_id", "missing_table_id"})
"""middle_auth's error codes (HTTP 400) for a datastack it cannot map to a dataset: an unknown name."""


def datastack_map_path() -> Path:
    return secrets_directory() / _defaults.DATASTACK_MAP_FILE


def read_datastack_map() -> dict[str, str]:
    try:
        content = json.loads(datastack_map_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict):
        return {}
    return {str(k): str(v) for k, v in content.items() if isinstance(v, str)}


_MAP_LOCK = threading.Lock()
"""Serialises this process's updates of the datastack map: each reads, changes and rewrites it."""


def write_datastack_map(datastack: str, server: str) -> None:
    path = datastack_map_path()
    with _MAP_LOCK:
        content = read_datastack_map()
        if content.get(datastack) == server:
            return
        content[datastack] = server
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # A temporary file of its own: another process may be replacing the map at this moment.
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temporary = Path(name)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write(json.dumps(content, indent=2))
                temporary.replace(path)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError as error:
            logger.warning("could not update the datastack map %s: %s", path, error)
            return
    logger.info("datastack %r now defaults to server %s (%s)", datastack, server, path)


def pcg_table_id(segmentation_source: str) -> str:
    """The chunkedgraph table id: the last path element of a graphene segmentation source."""
    return segmentation_source.rstrip("/").rsplit("/", 1)[-1]


class Deployment:
    """Server addresses and datastack records of one client, resolved lazily and cached."""

    def __init__(
        self,
        session: Session,
        *,
        datastack_name: str | None,
        server_address: str | None,
        write_server_cache: bool = True,
        info_cache: dict[str, DatastackRecord] | None = None,
    ) -> None:
        if datastack_name is not None and not isinstance(datastack_name, str):
            raise InvalidInputError(
                "datastack_name", f"must be a string, not {type(datastack_name).__name__}"
            )
        if server_address is not None and "://" not in server_address:
            raise InvalidInputError("server_address", f"{server_address!r} needs a scheme (https://...)")
        self._session = session
        self.datastack_name = datastack_name
        self._explicit_server = server_address.rstrip("/") if server_address else None
        self._write_server_cache = write_server_cache
        self._records: dict[tuple[str, str | None], DatastackRecord] = {}
        for name, record in (info_cache or {}).items():
            self._records[(name, None)] = record
        self._global_server: str | None = None
        self._lock = threading.Lock()
        self._records_lock = threading.Lock()
        self._flights = Flights()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"], state["_records_lock"], state["_flights"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._records_lock = threading.Lock()
        self._flights = Flights()

    @property
    def global_server(self) -> str:
        if self._global_server is None:
            with self._lock:
                if self._global_server is None:
                    self._global_server = self._resolve_global_server()
                    self._session.add_cave_server(self._global_server)
        return self._global_server

    def peek_global_server(self) -> str:
        """The global server as it is or would be resolved, without writing or registering anything."""
        if self._global_server is not None:
            return self._global_server
        if self._explicit_server:
            return self._explicit_server
        mapped = read_datastack_map().get(self.datastack_name) if self.datastack_name else None
        return mapped.rstrip("/") if mapped else _defaults.DEFAULT_GLOBAL_SERVER

    def _resolve_global_server(self) -> str:
        name = self.datastack_name
        if self._explicit_server:
            if name and self._write_server_cache:
                write_datastack_map(name, self._explicit_server)
            return self._explicit_server
        if name:
            mapped = read_datastack_map().get(name)
            if mapped:
                return mapped.rstrip("/")
        return _defaults.DEFAULT_GLOBAL_SERVER

    def require_datastack(self, datastack_name: str | None = None) -> str:
        name = datastack_name or self.datastack_name
        if not name:
            raise GlobalClientError(
                "this needs a datastack: create the client with CAVEclient(datastack_name=...)"
                " or pass datastack_name="
            )
        return name

    def info_api(self) -> InfoAPI:
        from caveclient_gen_api.info.client import Client as InfoAPI  # generated code loads on first use

        return self._session.api(InfoAPI, self.global_server)

    def datastack_info(
        self,
        datastack_name: str | None = None,
        *,
        image_mirror: str | None = None,
        use_stored: bool = True,
    ) -> Plan[DatastackRecord]:
        """The full info record of a datastack (a plan: use with `yield from`), fetched by one
        thread at a time."""
        name = self.require_datastack(datastack_name)
        key = (name, image_mirror)
        if not use_stored:
            return (yield from self._fetch_record(name, image_mirror))
        return (
            yield from self._flights.once(
                key,
                lambda: self._records.get(key, MISSING),
                lambda: self._fetch_record(name, image_mirror),
            )
        )

    def _fetch_record(self, name: str, image_mirror: str | None) -> Plan[DatastackRecord]:
        from caveclient_gen_api.info.api.datastacks import get_datastack_info
        from caveclient_gen_api.info.models.datastack_info import DatastackInfo

        try:
            response = yield from fetch(
                read(
                    get_datastack_info.sync_detailed,
                    get_datastack_info.asyncio_detailed,
                    name,
                    client=self.info_api(),
                    image_source_name=optional(image_mirror),
                )
            )
        except (NotFoundError, BadRequestError) as missing:
            if isinstance(missing, BadRequestError) and missing.error_code not in UNKNOWN_RESOURCE:
                raise
            visible = yield from self._visible_datastacks()
            raise _unknown_datastack(missing, name, visible, self.global_server) from missing
        record = parsed(response, DatastackInfo).to_dict()
        self._store_record((name, image_mirror), record)
        local = record.get("local_server")
        if isinstance(local, str) and local:
            self._session.add_cave_server(local)
        return record

    def _visible_datastacks(self) -> Plan[list[str] | None]:
        """The datastacks the token may view, or None when they cannot be listed."""
        from caveclient_gen_api.info.api.datastacks import get_datastacks

        try:
            response = yield from fetch(
                read(
                    get_datastacks.sync_detailed, get_datastacks.asyncio_detailed, client=self.info_api()
                )
            )
        except CAVEError:
            return None
        names = response.parsed
        if not isinstance(names, list):
            return None
        return sorted(str(name) for name in names)

    def stored_record(self) -> DatastackRecord | None:
        """This client's datastack record if it was already fetched (never makes a request)."""
        if not self.datastack_name:
            return None
        return self._records.get((self.datastack_name, None))

    def stored_records(self) -> dict[str, DatastackRecord]:
        """The datastack records fetched so far (default image source), by datastack name."""
        return {name: record for (name, mirror), record in self._stored() if mirror is None}

    def stored_datastacks(self) -> list[str]:
        return sorted({name for (name, _), _record in self._stored()})

    def _stored(self) -> list[tuple[tuple[str, str | None], DatastackRecord]]:
        with self._records_lock:  # a record stored meanwhile would end the iteration
            return list(self._records.items())

    def _store_record(self, key: tuple[str, str | None], record: DatastackRecord) -> None:
        with self._records_lock:
            self._records[key] = record

    def local_server(self, datastack_name: str | None = None) -> Plan[str]:
        record = yield from self.datastack_info(datastack_name)
        local = record.get("local_server")
        if not isinstance(local, str) or not local:
            raise InvalidInputError(
                "datastack_name",
                f"datastack {self.require_datastack(datastack_name)!r} names no local server",
            )
        self._session.add_cave_server(local)
        return local.rstrip("/")

    def aligned_volume_name(self, datastack_name: str | None = None) -> Plan[str]:
        record = yield from self.datastack_info(datastack_name)
        return str(record["aligned_volume"]["name"])

    def segmentation_table(self, datastack_name: str | None = None) -> Plan[str]:
        record = yield from self.datastack_info(datastack_name)
        source = record.get("segmentation_source")
        if not isinstance(source, str) or not source.startswith("graphene://"):
            raise InvalidInputError(
                "datastack_name",
                f"datastack {self.require_datastack(datastack_name)!r} has no chunkedgraph "
                f"segmentation (segmentation_source={source!r})",
            )
        return pcg_table_id(source)


def _unknown_datastack(
    missing: CAVEStatusError, name: str, visible: list[str] | None, server: str
) -> CAVEStatusError:
    """The 404 of an unknown datastack, saying which datastacks the token can see."""
    if visible is None:
        advice = "the datastacks this token can see could not be listed"
    elif visible:
        advice = f"this token can see {len(visible)} on {server}: {', '.join(visible)}"
    else:
        advice = (
            f"this token can see none on {server} (check the server, or the token's permissions "
            "with `caveclient-gen token --check`)"
        )
    return type(missing)(
        f"datastack {name!r} is unknown; {advice}. (Server: {missing.server_message})",
        method=missing.method,
        url=missing.url,
        status_code=missing.status_code,
        wire_status=missing.wire_status,
        error_code=missing.error_code,
        data=missing.data,
        headers=missing.headers,
    )
