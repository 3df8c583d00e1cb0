"""`client.l2cache`: precomputed features of chunkedgraph level-2 nodes (the L2 cache service)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from caveclient_gen_api.l2cache.api.attributes import get_attribute_metadata, get_l2_attributes
from caveclient_gen_api.l2cache.api.tables import get_table_mapping
from caveclient_gen_api.l2cache.client import Client as L2CacheAPI
from caveclient_gen_api.l2cache.models.l2_attribute_metadata import L2AttributeMetadata
from caveclient_gen_api.l2cache.models.l2_attributes_map import L2AttributesMap
from caveclient_gen_api.l2cache.models.l2_cache_table_mapping import L2CacheTableMapping
from caveclient_gen_api.l2cache.models.l2_ids_request import L2IdsRequest

from .. import _defaults
from .._convert.ids import id_chunks, unique_in_order
from .._convert.values import as_id_array
from .._core.datastack import pcg_table_id
from .._http.parse import optional, parsed
from .._http.plan import M, Plan, api_method, api_property, fetch, fetch_all, read
from ..errors import InvalidInputError, NotFoundError
from ..records.l2cache import L2Attributes, L2CacheTableInfo
from ._base import ServiceClient
from ._l2_frames import l2data_frame

if TYPE_CHECKING:
    import pandas as pd

    from .._core.core import ClientCore


class L2CacheClient(ServiceClient[M]):
    """The L2 cache: size, area, representative point, shape of each level-2 node of the graph."""

    _SERVER_KEY = "l2cache_server_address"
    _API_VERSION = 1
    _LOCAL = True
    _TABLE_ID_IN_MAPPING = True

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core)
        self._attributes: list[str] | None = None
        self._table_mapping: dict[str, L2CacheTableInfo] | None = None

    def _api(self) -> Plan[L2CacheAPI]:
        server = yield from self._deployment.local_server()
        return self._session.api(L2CacheAPI, server)

    @api_property
    def default_url_mapping(self) -> Plan[dict[str, str]]:
        """The L2 cache server and chunkedgraph table this client uses, under caveclient's key names.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        server = yield from self._deployment.local_server()
        table = yield from self._deployment.segmentation_table()
        return {"l2cache_server_address": server, "table_id": table}

    @api_property
    def attributes(self) -> Plan[list[str]]:
        """Names of the features the cache holds (fetched once).

        Calls ``GET /l2cache/api/v1/attribute_metadata``.
        """
        if self._attributes is None:
            metadata = yield from L2CacheClient.cache_metadata.plan(self)
            self._attributes = list(metadata)
        return list(self._attributes)

    @api_method
    def get_l2data(
        self, l2_ids: Any, attributes: Sequence[str] | None = None
    ) -> Plan[dict[str, L2Attributes]]:
        """Features of level-2 ids, keyed by id as a decimal string (as caveclient returns them).

        Calls ``POST /l2cache/api/v1/table/{table_id}/attributes``; duplicates are asked once, and large
        inputs go in chunks of ``L2CACHE_CHUNK_SIZE`` (20,000) ids, concurrently. PCGL2Cache 1.3.1 with
        its current dependencies fails every attributes request: that surfaces as a ServerError naming
        the route.

        Parameters
        ----------
        l2_ids : array-like of int
            Level-2 ids (list, NumPy array, pandas Series, or one int).
        attributes : sequence of str, optional
            Features to return (see ``attributes``: ``size_nm3``, ``area_nm2``, ``rep_coord_nm``,
            ``pca``, ``pca_val``, ``max_dt_nm``, ``mean_dt_nm``, ``chunk_intersect_count``, ...);
            default: all.

        Returns
        -------
        dict of str to L2Attributes
            ``"<l2 id>"`` -> ``{feature: value}`` (lists for array features); ``{}`` for ids the cache
            does not hold yet (the server queues their computation).

        Raises
        ------
        InvalidInputError
            An id is not an integer, or an attribute name is unknown (before any request).
        ServerError
            The L2 cache failed (PCGL2Cache 1.3.1 fails every attributes request).
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("l2_ids", l2_ids))
        names = _attribute_names(attributes)
        if ids.size == 0:
            return {}
        api = yield from self._api()
        table = yield from self._deployment.segmentation_table()
        responses = yield from fetch_all(
            [
                read(
                    get_l2_attributes.sync_detailed,
                    get_l2_attributes.asyncio_detailed,
                    table,
                    client=api,
                    body=L2IdsRequest(l2_ids=chunk.tolist()),
                    attribute_names=optional(",".join(names) if names is not None else None),
                    int64_as_str=False,
                )
                for chunk in id_chunks(ids, _defaults.L2CACHE_CHUNK_SIZE)
            ],
            self._session.settings.bulk_concurrency,
            "get_l2data",
        )
        data: dict[str, L2Attributes] = {}
        for response in responses:
            # The spec leaves each entry as decoded JSON: no model per entry for a million ids.
            entries = parsed(response, L2AttributesMap).additional_properties
            data.update(cast(dict[str, L2Attributes], entries))
        return data

    @api_method
    def get_l2data_table(
        self, l2_ids: Any, attributes: Sequence[str] | None = None, split_columns: bool = True
    ) -> Plan[pd.DataFrame]:
        """Features of level-2 ids as a DataFrame, one row per id.

        Calls ``POST /l2cache/api/v1/table/{table_id}/attributes`` (see ``get_l2data()``).

        Parameters
        ----------
        l2_ids : array-like of int
            Level-2 ids (list, NumPy array, pandas Series, or one int).
        attributes : sequence of str, optional
            Features to return (see ``attributes``: ``size_nm3``, ``area_nm2``, ``rep_coord_nm``,
            ``pca``, ``pca_val``, ``max_dt_nm``, ``mean_dt_nm``, ``chunk_intersect_count``, ...);
            default: all.
        split_columns : bool, default True
            Array features become scalar columns (``rep_coord_nm_x``, ``pca_0_x``, ...,
            ``chunk_intersect_count_x_bottom``, ...); False keeps one column of lists.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``l2_id`` (uint64), in input order; NaN for ids without data and features left
            out.

        Raises
        ------
        InvalidInputError
            An id is not an integer, or an attribute name is unknown (before any request).
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("l2_ids", l2_ids))
        names = _attribute_names(attributes)
        data = yield from L2CacheClient.get_l2data.plan(self, ids, names)
        return l2data_frame(ids, data, names, bool(split_columns))

    @api_method
    def cache_metadata(self) -> Plan[dict[str, str]]:
        """Each cached feature and the NumPy type it is stored as.

        Calls ``GET /l2cache/api/v1/attribute_metadata``.

        Returns
        -------
        dict of str to str
            Feature name -> dtype name (e.g. ``"float32"``).

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        api = yield from self._api()
        response = yield from fetch(
            read(
                get_attribute_metadata.sync_detailed, get_attribute_metadata.asyncio_detailed, client=api
            )
        )
        return dict(parsed(response, L2AttributeMetadata).additional_properties)

    @api_method
    def table_mapping(self) -> Plan[dict[str, L2CacheTableInfo]]:
        """Tables that have an L2 cache (kept once fetched).

        Calls ``GET /l2cache/api/v1/table_mapping``.

        Returns
        -------
        dict of str to L2CacheTableInfo
            Chunkedgraph table id -> ``{"l2cache_id": ..., "cv_path": ...}``.

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if self._table_mapping is None:
            api = yield from self._api()
            response = yield from fetch(
                read(get_table_mapping.sync_detailed, get_table_mapping.asyncio_detailed, client=api)
            )
            mapping = parsed(response, L2CacheTableMapping).additional_properties
            self._table_mapping = {
                table: cast(L2CacheTableInfo, info.to_dict()) for table, info in mapping.items()
            }
        return dict(self._table_mapping)

    @api_method
    def has_cache(self, datastack_name: str | None = None) -> Plan[bool]:
        """Whether a datastack's segmentation has an L2 cache.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept)
        and ``GET /l2cache/api/v1/table_mapping``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).

        Returns
        -------
        bool
            False for segmentations that are not ``graphene://`` sources, and (with a warning) when the
            service publishes no table mapping.

        Raises
        ------
        GlobalClientError
            No datastack was given and the client has none.
        NotFoundError, BadRequestError
            The datastack is unknown (the message lists the datastacks the token can see).
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        record = yield from self._deployment.datastack_info(datastack_name)
        source = record.get("segmentation_source")
        if not isinstance(source, str) or not source.startswith("graphene://"):
            return False
        try:
            mapping = yield from L2CacheClient.table_mapping.plan(self)
        except NotFoundError:
            warnings.warn(
                "the L2 cache service has no table mapping; assuming no cache",
                UserWarning,
                stacklevel=2,
            )
            return False
        return pcg_table_id(source) in mapping


def _attribute_names(attributes: Sequence[str] | None) -> list[str] | None:
    if attributes is None:
        return None
    if isinstance(attributes, str):
        raise InvalidInputError("attributes", "must be a list of attribute names, not one string")
    names = list(attributes)
    for name in names:
        if not isinstance(name, str) or not name or "," in name:
            raise InvalidInputError("attributes", f"{name!r} is not an attribute name")
    return names
