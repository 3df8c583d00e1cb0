"""`client.skeleton`: neuron skeletons of a datastack's root ids (the skeleton service).

The service lives on the datastack's local server. Unlike caveclient, no call makes extra round
trips first (version checks, L2-cache and root-id validation, CloudVolume): versions and formats are
checked here against the service's fixed sets, and anything else is left to the server, whose errors
are raised as they come. Bulk calls split long id lists into the sizes the server accepts and fetch
the pieces concurrently, so nothing is cut off; ids for which no skeleton comes back are reported
with a MissingSkeletonsWarning, never dropped silently.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar, cast

from caveclient_gen_api.skeleton.api.bulk import generate_bulk_skeletons as generate_route
from caveclient_gen_api.skeleton.api.bulk import get_bulk_skeletons as bulk_route
from caveclient_gen_api.skeleton.api.bulk import get_cached_skeletons as cached_route
from caveclient_gen_api.skeleton.api.bulk import get_skeleton_token as token_route
from caveclient_gen_api.skeleton.api.cache import get_cache_contents as cache_contents_route
from caveclient_gen_api.skeleton.api.cache import get_refusal_list as refusal_route
from caveclient_gen_api.skeleton.api.cache import skeletons_exist as exists_route
from caveclient_gen_api.skeleton.api.info import get_skeleton_info_versioned as info_route
from caveclient_gen_api.skeleton.api.skeleton import get_skeleton_async as skeleton_route
from caveclient_gen_api.skeleton.api.version import get_skeleton_versions as versions_route
from caveclient_gen_api.skeleton.api.version import get_version as version_route
from caveclient_gen_api.skeleton.client import Client as SkeletonAPI
from caveclient_gen_api.skeleton.models.bulk_skeleton_output_format import BulkSkeletonOutputFormat
from caveclient_gen_api.skeleton.models.bulk_skeletons import BulkSkeletons
from caveclient_gen_api.skeleton.models.cache_contents import CacheContents as CacheContentsModel
from caveclient_gen_api.skeleton.models.cached_skeletons import CachedSkeletons
from caveclient_gen_api.skeleton.models.cached_skeletons_request import CachedSkeletonsRequest
from caveclient_gen_api.skeleton.models.generate_skeletons_request import GenerateSkeletonsRequest
from caveclient_gen_api.skeleton.models.skeleton_info import SkeletonInfo
from caveclient_gen_api.skeleton.models.skeleton_output_format import SkeletonOutputFormat
from caveclient_gen_api.skeleton.models.skeleton_token import SkeletonToken
from caveclient_gen_api.skeleton.models.skeleton_token_request import SkeletonTokenRequest
from caveclient_gen_api.skeleton.models.skeletons_exist_map import SkeletonsExistMap
from caveclient_gen_api.skeleton.models.skeletons_exist_request import SkeletonsExistRequest

from .._convert.values import as_id, as_id_array
from .._convert.versions import ServerVersion, parse_version
from .._http.comma_path import send_id_list, send_id_list_async
from .._http.overloaded import overloaded
from .._http.parse import parsed, parsed_list
from .._http.plan import (
    M,
    Plan,
    RawResponse,
    Request,
    api_method,
    fetch,
    fetch_all,
    read,
    replaced_result,
    replacement,
    write,
)
from ..errors import (
    AuthenticationError,
    CAVEError,
    InvalidInputError,
    MissingSkeletonsWarning,
    NotFoundError,
    PermissionDeniedError,
    UnexpectedResponseError,
)
from ._base import ServiceClient
from ._method_signatures import GET_SKELETON
from ._skeleton_formats import (
    CacheContents,
    PrecomputedSkeletonInfo,
    SkeletonDict,
    SkeletonJSON,
    compress_json,
    compress_text,
    decompress_json,
    decompress_text,
    refusal_frame,
    require_h5py,
    skeleton_from_flatdict,
    skeleton_from_h5,
    skeleton_json,
    swc_frame,
)
from ._skeleton_storage import BucketGrant, BucketReader

if TYPE_CHECKING:
    import pandas as pd

    from .._core.core import ClientCore

    Skeleton: TypeAlias = SkeletonDict | pd.DataFrame
    """A skeleton: a SkeletonDict (output_format="dict") or an SWC DataFrame ("swc")."""
    BulkSkeleton: TypeAlias = SkeletonDict | SkeletonJSON | pd.DataFrame
    """A skeleton of a bulk call: the service's JSON ("dict" from the service), a SkeletonDict
    ("dict" from the storage bucket) or an SWC DataFrame ("swc")."""

__all__ = [
    "CacheContents",
    "MissingSkeletonsWarning",
    "PrecomputedSkeletonInfo",
    "SkeletonClient",
    "SkeletonDict",
    "SkeletonJSON",
]

logger = logging.getLogger("caveclient_gen")
T = TypeVar("T")

# ---------------------------------------------------------------- the service's fixed sets and limits
SKELETON_VERSIONS = (-1, 0, 1, 2, 3, 4)
"""Skeleton versions the service accepts: 1-4, -1 (latest, i.e. 4), 0 (Neuroglancer, i.e. 2)."""
VERSION_ALIASES = {-1: 4, 0: 2}
SERVER_FORMATS = {"dict": "flatdict", "swc": "swccompressed"}
"""output_format → the payload format asked of the server."""
FETCH_METHODS = ("server", "gcs")

MAX_EXISTS_IDS = 1000
"""Root ids per skeletons_exist request (caveclient's limit)."""
MAX_BULK_IDS = 10
"""Root ids per get_bulk_skeletons request: the server processes only the first 10."""
MAX_CACHED_IDS = 500
"""Root ids per get_cached_skeletons request: the server refuses more with 400."""
MAX_GENERATE_IDS = 1000
"""Root ids per generation request (caveclient's batch size)."""

MARKER_REASONS = {
    "async": "not cached yet, generation queued",
    "invalid_rid": "not a valid node id",
    "invalid_layer_rid": "not a root id (another chunkedgraph layer)",
}
"""What the bulk route's marker values mean."""
SHOWN_IDS = 10
"""Ids named per reason in a MissingSkeletonsWarning."""


class _Service(NamedTuple):
    datastack: str
    server: str
    api: SkeletonAPI


class SkeletonClient(ServiceClient[M]):
    """The skeleton service: skeletons of root ids, generated on demand and cached by the service."""

    _SERVER_KEY = "skeleton_server_address"
    _API_VERSION = 1
    _LOCAL = True
    _VERSION_ROUTE = ("skeleton", "version.get_version")

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core)
        self._grants: dict[tuple[str, str, int], BucketGrant] = {}
        self._info_documents: dict[tuple[str, str, int], PrecomputedSkeletonInfo] = {}
        self._graph: Any = None

    def _api(self, datastack_name: str | None = None) -> Plan[_Service]:
        """Where the datastack's skeleton service is, and the generated client that reaches it."""
        name = self._deployment.require_datastack(datastack_name)
        server = yield from self._deployment.local_server(name)
        return _Service(name, server, self._session.api(SkeletonAPI, server))

    # ------------------------------------------------------------ versions

    @api_method
    def get_version(self) -> Plan[ServerVersion | None]:
        """Version of the skeleton service.

        Calls ``GET /skeletoncache/api/version``.

        Returns
        -------
        ServerVersion or None
            The version (comparable, e.g. ``>= ServerVersion("0.6.0")``); None when the server has no
            version route.

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        api = (yield from self._api()).api
        try:
            response = yield from fetch(
                read(version_route.sync_detailed, version_route.asyncio_detailed, client=api)
            )
        except NotFoundError:
            return None
        text = parsed(response, str)
        version = parse_version(text)
        if version is None:
            raise UnexpectedResponseError(f"the skeleton service reported the version {text!r}")
        return version

    @api_method
    def get_versions(self) -> Plan[list[int] | None]:
        """Skeleton format versions the service accepts, e.g. ``[-1, 0, 1, 2, 3, 4]``.

        Calls ``GET /skeletoncache/api/versions``. These are skeleton formats, not API versions: -1
        stands for the latest (4) and 0 for the Neuroglancer-compatible one (2).

        Returns
        -------
        list of int or None
            The versions; None when the service does not say.

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        api = (yield from self._api()).api
        try:
            response = yield from fetch(
                read(versions_route.sync_detailed, versions_route.asyncio_detailed, client=api)
            )
        except NotFoundError:
            return None
        return parsed_list(response, int)

    # ------------------------------------------------------------ gzip helpers (caveclient's names)

    @staticmethod
    def compressStringToBytes(inputString: str) -> bytes:  # noqa: N802, N803
        """gzip the UTF-8 encoding of a text (caveclient's helper). Makes no request.

        Parameters
        ----------
        inputString : str
            The text.

        Returns
        -------
        bytes
            gzip-compressed bytes.
        """
        return compress_text(inputString)

    @staticmethod
    def compressDictToBytes(inputDict: Any, remove_spaces: bool = True) -> bytes:  # noqa: N802, N803
        """gzip the JSON text of a document (caveclient's helper). Makes no request.

        Parameters
        ----------
        inputDict : Any
            A JSON-serialisable value.
        remove_spaces : bool, default True
            Write compact JSON (string values untouched).

        Returns
        -------
        bytes
            gzip-compressed bytes.
        """
        return compress_json(inputDict, compact=remove_spaces)

    @staticmethod
    def decompressBytesToString(inputBytes: bytes) -> str:  # noqa: N802, N803
        """The UTF-8 text of gzip bytes (caveclient's helper). Makes no request.

        Parameters
        ----------
        inputBytes : bytes
            gzip-compressed bytes.

        Returns
        -------
        str
            The text.

        Raises
        ------
        OSError
            The bytes are not gzip data.
        """
        return decompress_text(inputBytes)

    @staticmethod
    def decompressBytesToDict(inputBytes: bytes) -> Any:  # noqa: N802, N803
        """The JSON document of gzip bytes (caveclient's helper). Makes no request.

        Parameters
        ----------
        inputBytes : bytes
            gzip-compressed JSON.

        Returns
        -------
        Any
            The parsed JSON value.

        Raises
        ------
        OSError
            The bytes are not gzip data.
        ValueError
            The text is not JSON.
        """
        return decompress_json(inputBytes)

    # ------------------------------------------------------------ the cache

    @api_method
    def get_refusal_list(
        self,
        datastack_name: str | None = None,
        log_warning: bool = True,
        verbose_level: int | None = 0,
    ) -> Plan[pd.DataFrame]:
        """Root ids the service refuses to skeletonize.

        Calls ``GET /skeletoncache/api/v1/{datastack}/precomputed/skeleton/get_refusal_list``. The list
        is the service's whole list: filter ``DATASTACK_NAME`` yourself.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        log_warning : bool, default True
            Raise the warnings the service sends with its answer as Python warnings
            (``CAVEServerWarning``).
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        pandas.DataFrame
            Columns ``DATASTACK_NAME`` (str) and ``ROOT_ID`` (uint64), one row per refused id.

        Raises
        ------
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        RateLimitError
            The service refused for too many requests (after the client's retries).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        level = _verbose_level(verbose_level)
        name, _, api = yield from self._api(datastack_name)
        response = yield from fetch(
            read(
                refusal_route.sync_detailed,
                refusal_route.asyncio_detailed,
                name,
                client=api,
                verbose_level=level,
            )
        )
        _forward_warnings(response, log_warning)
        return _decoded("the refusal list", refusal_frame, response.content)

    @api_method
    def get_cache_contents(
        self,
        datastack_name: str | None = None,
        skeleton_version: int | None = 4,
        root_id_prefixes: int | str | Sequence[int | str] = 0,
        limit: int | None = 0,
        log_warning: bool = True,
        verbose_level: int | None = 0,
    ) -> Plan[CacheContents]:
        """Cached skeleton files whose root id starts with one of the given decimal prefixes.

        Calls ``GET /skeletoncache/api/v1/{datastack}/precomputed/skeleton/query_cache/{skvn}/{p}/{n}``
        (`p`: the prefixes, `n`: the limit).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        skeleton_version : int or None, default 4
            Skeleton format version (see ``get_versions()``): -1 is the latest (4), 0 the
            Neuroglancer-compatible one (2); None lets the service choose.
        root_id_prefixes : int, str or sequence of them, default 0
            Decimal prefixes of root ids (``0`` matches nothing but is caveclient's default).
        limit : int or None, default 0
            At most this many file names returned (0 or None: all).
        log_warning : bool, default True
            Raise the warnings the service sends with its answer as Python warnings
            (``CAVEServerWarning``).
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        CacheContents
            A dict: ``num_found`` (every match) and ``files`` (file names, at most `limit`).

        Raises
        ------
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        RateLimitError
            The service refused for too many requests (after the client's retries).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        version = _skeleton_version(skeleton_version)
        prefixes = _prefixes(root_id_prefixes)
        most = _count("limit", 0 if limit is None else limit)
        level = _verbose_level(verbose_level)
        name, _, api = yield from self._api(datastack_name)
        response = yield from fetch(
            read(
                cache_contents_route.sync_detailed,
                cache_contents_route.asyncio_detailed,
                name,
                version,
                prefixes,
                most,
                client=api,
                verbose_level=level,
            )
        )
        _forward_warnings(response, log_warning)
        contents = parsed(response, CacheContentsModel)
        return CacheContents(num_found=contents.num_found, files=list(contents.files))

    @api_method
    def skeletons_exist(
        self,
        datastack_name: str | None = None,
        skeleton_version: int | None = 4,
        root_ids: int | str | Iterable[int] = 0,
        log_warning: bool = True,
        verbose_level: int | None = 0,
    ) -> Plan[bool | dict[int, bool]]:
        """Whether each root id has a cached skeleton.

        Calls ``POST /skeletoncache/api/v1/{datastack}/precomputed/skeleton/exists``, 1000 ids per
        request, concurrently.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        skeleton_version : int or None, default 4
            Skeleton format version (see ``get_versions()``): -1 is the latest (4), 0 the
            Neuroglancer-compatible one (2); None lets the service choose.
        root_ids : int, str or iterable of int, default 0
            One root id or many.
        log_warning : bool, default True
            Raise the warnings the service sends with its answer as Python warnings
            (``CAVEServerWarning``).
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        bool or dict of int to bool
            A bool for one id; else root id -> whether it is cached.

        Raises
        ------
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        RateLimitError
            The service refused for too many requests (after the client's retries).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        version = _skeleton_version(skeleton_version)
        ids = _unique_ids("root_ids", _digits_to_int(root_ids))
        level = _verbose_level(verbose_level)
        if not ids:
            raise InvalidInputError("root_ids", "must name at least one root id")
        name, _, api = yield from self._api(datastack_name)
        chunks = _chunks(ids, MAX_EXISTS_IDS)
        requests = [
            read(
                exists_route.sync_detailed,
                exists_route.asyncio_detailed,
                name,
                client=api,
                body=SkeletonsExistRequest(
                    root_ids=chunk, skeleton_version=version, verbose_level=level
                ),
                verbose_level=level,
            )
            for chunk in chunks
        ]
        responses = yield from fetch_all(
            requests, self._session.settings.bulk_concurrency, "checking skeletons"
        )
        found: dict[int, bool] = {}
        for chunk, response in zip(chunks, responses, strict=True):
            _forward_warnings(response, log_warning)
            found.update(_exists_answer(chunk, response.parsed))
        if len(ids) == 1:
            return found[ids[0]]
        return found

    # ------------------------------------------------------------ one skeleton

    @api_method
    def get_precomputed_skeleton_info(
        self, skvn: int, datastack_name: str | None = None
    ) -> Plan[PrecomputedSkeletonInfo]:
        """The Neuroglancer precomputed-skeleton ``info`` document of a skeleton version.

        Calls ``GET /skeletoncache/api/v1/{datastack}/precomputed/skeleton/{skvn}/info`` (kept per
        datastack and version: the service fixes them). The aliases -1 and 0 are asked as the versions
        they stand for (4 and 2).

        Parameters
        ----------
        skvn : int
            Skeleton format version.
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        PrecomputedSkeletonInfo
            A dict: ``@type``, ``transform``, ``vertex_attributes`` (``id``, ``data_type``,
            ``num_components``).

        Raises
        ------
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        RateLimitError
            The service refused for too many requests (after the client's retries).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        version = _skeleton_version(skvn, "skvn")
        concrete = VERSION_ALIASES.get(version, version)
        name, server, api = yield from self._api(datastack_name)
        key = (server, name, concrete)
        if key not in self._info_documents:
            response = yield from fetch(
                read(info_route.sync_detailed, info_route.asyncio_detailed, name, concrete, client=api)
            )
            document = parsed(response, SkeletonInfo).to_dict()
            self._info_documents[key] = cast(PrecomputedSkeletonInfo, document)
        return deepcopy(self._info_documents[key])

    @overloaded(GET_SKELETON)
    def get_skeleton(
        self,
        root_id: int,
        datastack_name: str | None = None,
        skeleton_version: int | None = 4,
        output_format: str = "dict",
        log_warning: bool = True,
        verbose_level: int | None = 0,
    ) -> Plan[Skeleton]:
        """The skeleton of one root id, generated first if the service has none cached (slow).

        Calls ``GET /skeletoncache/api/v1/{datastack}/async/get_skeleton/{skvn}/{rid}/{output_format}``.
        As caveclient does, the id is first checked to be at the chunkedgraph's root layer and a node of
        the graph (``GET /segmentation/table/{table_id}/info``, fetched once, and
        ``GET /segmentation/api/v1/table/{table_id}/valid_nodes``). Where ``client.info.
        segmentation_cloudvolume`` or ``client.chunkedgraph.is_valid_nodes`` was replaced on the
        client (``mock.patch.object``, as caveclient's tests do), the replacement answers instead.

        Parameters
        ----------
        root_id : int
            A current root id.
        datastack_name : str, optional
            The datastack (default: the client's).
        skeleton_version : int or None, default 4
            Skeleton format version (see ``get_versions()``): -1 is the latest (4), 0 the
            Neuroglancer-compatible one (2); None lets the service choose.
        output_format : {"dict", "swc"}, default "dict"
            ``"dict"``: a SkeletonDict of NumPy arrays (``vertices`` (n, 3) float nm, ``edges`` (m, 2),
            ``root``, ``radius``, ``compartment``, ``mesh_to_skel_map``, ...). ``"swc"``: a DataFrame
            with columns ``id, type, x, y, z, radius, parent``.
        log_warning : bool, default True
            Raise the warnings the service sends with its answer as Python warnings
            (``CAVEServerWarning``).
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        SkeletonDict or pandas.DataFrame
            As `output_format` says.

        Raises
        ------
        InvalidInputError
            A bad argument (a root id that is not an integer, an `output_format` or `skeleton_version`
            not accepted), or an id that is not at the root layer or not a node of the graph (caught as
            ValueError, as caveclient's refusal was).
        BadRequestError
            The service refuses this root id (the server's reason is in the message).
        UnexpectedResponseError
            The payload could not be decoded.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        root = as_id("root_id", root_id)
        version = _skeleton_version(skeleton_version)
        server_format = _server_format(output_format)
        level = _verbose_level(verbose_level)
        name, _, api = yield from self._api(datastack_name)
        if name == self._deployment.datastack_name:
            yield from self._check_root_id(root)
        response = yield from fetch(
            read(
                skeleton_route.sync_detailed,
                skeleton_route.asyncio_detailed,
                name,
                version,
                root,
                SkeletonOutputFormat(server_format),
                client=api,
                verbose_level=level,
            )
        )
        _forward_warnings(response, log_warning)
        what = f"the skeleton of root id {root}"
        if output_format == "swc":
            return _decoded(what, swc_frame, response.content)
        return _decoded(what, skeleton_from_flatdict, response.content)

    def _check_root_id(self, root: int) -> Plan[None]:
        """Refuse an id that is not at the root layer, or not a node of the graph, before asking for
        its skeleton (caveclient's checks). The layer comes from the graph's info document (fetched
        once), or, when ``client.info.segmentation_cloudvolume`` was replaced on this client (as
        caveclient's tests do), from the volume it returns; ``client.chunkedgraph.is_valid_nodes``
        is likewise the replacement when there is one."""
        import numpy as np

        from .chunkedgraph import ChunkedGraphClient

        if self._fc is not None:
            graph = self._fc.chunkedgraph
            volume_of = replacement(self._fc.info, "segmentation_cloudvolume")
        else:
            if self._graph is None:
                self._graph = ChunkedGraphClient(self._core)
            graph = self._graph
            volume_of = None
        layer, layers = yield from _layers(graph, volume_of, root)
        if layer is not None and layer != layers:
            raise InvalidInputError(
                "root_id",
                f"Invalid root id: {root} is an id of layer {layer}, not a root id (layer {layers}): "
                "perhaps a supervoxel or level-2 id (get its root with client.chunkedgraph.get_root_id)",
            )
        valid_of = replacement(graph, "is_valid_nodes")
        if valid_of is not None:
            valid = replaced_result("is_valid_nodes", valid_of(root))
        else:
            valid = yield from ChunkedGraphClient.is_valid_nodes.plan(graph, [root])
        if not bool(np.all(np.asarray(valid))):
            raise InvalidInputError(
                "root_id", f"Invalid root id: {root} is not a node of the chunkedgraph"
            )

    # ------------------------------------------------------------ many skeletons

    @api_method
    def get_bulk_skeletons(
        self,
        root_ids: Iterable[int],
        datastack_name: str | None = None,
        skeleton_version: int | None = 4,
        output_format: str = "dict",
        generate_missing_skeletons: bool = False,
        log_warning: bool = True,
        verbose_level: int | None = 0,
    ) -> Plan[dict[str, BulkSkeleton]]:
        """Skeletons of many root ids.

        Calls
        ``GET /skeletoncache/api/v1/{datastack}/bulk/get_skeletons/{skvn}/{output_format}/{gms}/{rids}``,
        10 ids per request (the server's limit), concurrently. For many cached skeletons
        ``fetch_skeletons()`` is much faster.

        Parameters
        ----------
        root_ids : iterable of int
            Root ids (any number).
        datastack_name : str, optional
            The datastack (default: the client's).
        skeleton_version : int or None, default 4
            Skeleton format version (see ``get_versions()``): -1 is the latest (4), 0 the
            Neuroglancer-compatible one (2); None lets the service choose.
        output_format : {"dict", "swc"}, default "dict"
            ``"dict"``: a SkeletonJSON, the service's JSON document (``vertices`` as n [x, y, z]
            lists in nm, ``edges`` as m pairs, ``root``, ``radius``, ``compartment``,
            ``mesh_to_skel_map``, ...). ``"swc"``: a DataFrame with columns
            ``id, type, x, y, z, radius, parent``.
        generate_missing_skeletons : bool, default False
            Queue generation of the skeletons not cached yet (they are still left out of this result).
        log_warning : bool, default True
            Raise the warnings the service sends with its answer as Python warnings
            (``CAVEServerWarning``).
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        dict of str to SkeletonJSON or pandas.DataFrame
            Root id (as a decimal string) -> skeleton; with ``output_format="dict"`` each is the
            service's JSON document as caveclient 8.2.1 returns it (lists, not arrays). Ids without a
            cached skeleton, invalid or refused ids are left out, and a ``MissingSkeletonsWarning`` names
            them with the reason.

        Raises
        ------
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        RateLimitError
            The service refused for too many requests (after the client's retries).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = _unique_ids("root_ids", root_ids)
        version = _skeleton_version(skeleton_version)
        server_format = _server_format(output_format)
        generate = _flag("generate_missing_skeletons", generate_missing_skeletons)
        level = _verbose_level(verbose_level)
        if not ids:
            return {}
        name, _, api = yield from self._api(datastack_name)
        chunks = _chunks(ids, MAX_BULK_IDS)
        requests = [
            read(
                send_id_list,
                send_id_list_async,
                bulk_route,
                name,
                version,
                BulkSkeletonOutputFormat(server_format),
                generate,
                ",".join(map(str, chunk)),
                client=api,
                verbose_level=level,
            )
            for chunk in chunks
        ]
        responses = yield from fetch_all(
            requests, self._session.settings.bulk_concurrency, "fetching skeletons"
        )
        payloads: dict[str, str] = {}
        for response in responses:
            _forward_warnings(response, log_warning)
            payloads.update(parsed(response, BulkSkeletons).additional_properties)
        skeletons, problems = _decode_payloads(payloads, output_format)
        _report_missing(ids, skeletons, problems, absent="refused by the service")
        return skeletons

    @api_method
    def generate_bulk_skeletons_async(
        self,
        root_ids: Iterable[int],
        datastack_name: str | None = None,
        skeleton_version: int | None = None,
        log_warning: bool = True,
        verbose_level: int | None = 0,
    ) -> Plan[float]:
        """Queue generation of the skeletons of many root ids.

        Calls ``POST /skeletoncache/api/v1/{datastack}/bulk/gen_skeletons``, 1000 ids per request,
        concurrently. Ids already cached, refused, or not root ids are skipped by the service. Poll with
        ``skeletons_exist()``.

        Parameters
        ----------
        root_ids : iterable of int
            Root ids (any number).
        datastack_name : str, optional
            The datastack (default: the client's).
        skeleton_version : int, optional
            Skeleton format version (default: the service's choice).
        log_warning : bool, default True
            Raise the warnings the service sends with its answer as Python warnings
            (``CAVEServerWarning``).
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        float
            Estimated seconds until done: the sum of the pieces' estimates (an upper bound).

        Raises
        ------
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        RateLimitError
            The service refused for too many requests (after the client's retries).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = _unique_ids("root_ids", root_ids)
        version = _skeleton_version(4 if skeleton_version is None else skeleton_version)
        level = _verbose_level(verbose_level)
        if not ids:
            return 0.0
        name, _, api = yield from self._api(datastack_name)
        requests = [
            write(
                generate_route.sync_detailed,
                generate_route.asyncio_detailed,
                name,
                client=api,
                body=GenerateSkeletonsRequest(
                    root_ids=chunk, skeleton_version=version, verbose_level=level
                ),
                verbose_level=level,
            )
            for chunk in _chunks(ids, MAX_GENERATE_IDS)
        ]
        responses = yield from fetch_all(
            requests, self._session.settings.bulk_concurrency, "queueing skeletons"
        )
        seconds = 0.0
        for response in responses:
            _forward_warnings(response, log_warning)
            estimate = response.parsed
            if isinstance(estimate, bool) or not isinstance(estimate, int | float):
                raise UnexpectedResponseError(
                    f"expected an estimate in seconds, got {type(estimate).__name__}"
                )
            seconds += float(estimate)
        logger.info(
            "queued skeleton generation for %d root ids: done within about %s",
            len(ids),
            _duration(seconds),
        )
        return seconds

    @api_method
    def fetch_skeletons(
        self,
        root_ids: Iterable[int],
        datastack_name: str | None = None,
        skeleton_version: int | None = 4,
        output_format: str = "dict",
        method: str = "server",
        generate_missing_skeletons: bool = False,
        verbose_level: int | None = 0,
    ) -> Plan[dict[str, BulkSkeleton]]:
        """Already-cached skeletons of many root ids: nothing is generated inline.

        Calls ``POST /skeletoncache/api/v1/{datastack}/bulk/get_cached_skeletons/{skvn}/{output_format}``
        (500 ids per request, concurrently), or with ``method="gcs"``
        ``POST /skeletoncache/api/v1/{datastack}/bulk/get_skeleton_token/{skvn}`` and then reads the H5
        files from the service's storage bucket with that bucket's own short-lived token (the CAVE token
        is never sent to the storage host).

        Parameters
        ----------
        root_ids : iterable of int
            Root ids (any number).
        datastack_name : str, optional
            The datastack (default: the client's).
        skeleton_version : int or None, default 4
            Skeleton format version (see ``get_versions()``): -1 is the latest (4), 0 the
            Neuroglancer-compatible one (2); None lets the service choose.
        output_format : {"dict", "swc"}, default "dict"
            ``"dict"``: from the service a SkeletonJSON (its JSON document: ``vertices`` as n
            [x, y, z] lists in nm, ``edges`` as m pairs, ``root``, ``radius``, ...), from the bucket a
            SkeletonDict of NumPy arrays. ``"swc"``: a DataFrame with columns
            ``id, type, x, y, z, radius, parent``.
        method : {"server", "gcs"}, default "server"
            ``"server"``: the service sends the skeletons. ``"gcs"``: download from the bucket (dict
            output only; needs the optional package h5py).
        generate_missing_skeletons : bool, default False
            Queue generation of the skeletons not cached.
        verbose_level : int or None, default 0
            The service's logging verbosity for this request (0 to 3; None leaves it out).

        Returns
        -------
        dict of str to SkeletonJSON, SkeletonDict or pandas.DataFrame
            Root id (as a decimal string) -> skeleton; with ``output_format="dict"`` each is, from
            the service (``method="server"``), its JSON document as caveclient 8.2.1 returns it
            (lists, not arrays), and from the bucket a SkeletonDict of NumPy arrays. Ids without a
            cached skeleton are left out and named in a ``MissingSkeletonsWarning``.

        Raises
        ------
        ImportError
            ``method="gcs"`` without h5py installed.
        InvalidInputError
            A root id is not an integer, or `output_format` / `skeleton_version` is not accepted.
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = _unique_ids("root_ids", root_ids)
        version = _skeleton_version(skeleton_version)
        server_format = _server_format(output_format, bulk_cached=True)
        generate = _flag("generate_missing_skeletons", generate_missing_skeletons)
        level = _verbose_level(verbose_level)
        if method not in FETCH_METHODS:
            raise InvalidInputError("method", f"method must be 'server' or 'gcs', got {method!r}")
        if method == "gcs":
            if output_format != "dict":
                raise InvalidInputError(
                    "output_format",
                    "method='gcs' only supports output_format='dict'; use method='server' for SWC",
                )
            require_h5py()
        if not ids:
            return {}
        if method == "gcs":
            return (yield from self._fetch_from_bucket(ids, datastack_name, version, generate, level))
        name, _, api = yield from self._api(datastack_name)
        chunks = _chunks(ids, MAX_CACHED_IDS)
        # Queueing generation changes what the service does next: that is not replayed blindly.
        send = write if generate else read
        requests = [
            send(
                cached_route.sync_detailed,
                cached_route.asyncio_detailed,
                name,
                version,
                BulkSkeletonOutputFormat(server_format),
                client=api,
                body=CachedSkeletonsRequest(
                    root_ids=chunk, generate_missing=generate, verbose_level=level
                ),
                verbose_level=level,
            )
            for chunk in chunks
        ]
        responses = yield from fetch_all(
            requests, self._session.settings.bulk_concurrency, "fetching skeletons"
        )
        payloads: dict[str, str] = {}
        for response in responses:
            payloads.update(parsed(response, CachedSkeletons).additional_properties)
        skeletons, problems = _decode_payloads(payloads, output_format)
        absent = "not cached, generation queued" if generate else "not cached"
        _report_missing(ids, skeletons, problems, absent=absent)
        return skeletons

    # ------------------------------------------------------------ the storage bucket

    def _fetch_from_bucket(
        self,
        ids: list[int],
        datastack_name: str | None,
        version: int,
        generate: bool,
        level: int,
    ) -> Plan[dict[str, BulkSkeleton]]:
        service = yield from self._api(datastack_name)
        name, server, _ = service
        grant = yield from self._grant(service, version, level)
        reader = BucketReader(self._session, grant)
        requests: list[Request[None]] = [
            read(reader.get, reader.get_async, grant.url(root)) for root in ids
        ]
        try:
            responses: list[RawResponse[None]] = yield from fetch_all(
                requests, self._session.settings.bulk_concurrency, "downloading skeletons"
            )
        except (AuthenticationError, PermissionDeniedError):
            # The grant may have been revoked or expired early: ask for a new one next time.
            self._grants.pop((server, name, version), None)
            raise
        skeletons: dict[str, BulkSkeleton] = {}
        problems: dict[str, list[int]] = {}
        missing: list[int] = []
        for root, response in zip(ids, responses, strict=True):
            if response.status_code == 404:
                missing.append(root)
                continue
            try:
                skeletons[str(root)] = skeleton_from_h5(response.content)
            except (ValueError, OSError, KeyError, TypeError) as error:
                logger.warning("could not read the skeleton of root id %d: %s", root, error)
                problems.setdefault("unreadable", []).append(root)
        absent = "not in the bucket"
        if generate and missing:
            try:
                yield from SkeletonClient.generate_bulk_skeletons_async.plan(
                    self, missing, datastack_name=name, skeleton_version=version, verbose_level=level
                )
                absent = "not in the bucket, generation queued"
            except CAVEError as error:
                warnings.warn(
                    f"could not queue generation of {len(missing)} missing skeletons: {error}",
                    MissingSkeletonsWarning,
                    stacklevel=2,
                )
        _report_missing(ids, skeletons, problems, absent=absent)
        return skeletons

    def _grant(self, service: _Service, version: int, level: int) -> Plan[BucketGrant]:
        """A storage token for the datastack's skeletons, reused until shortly before it expires."""
        name, server, api = service
        key = (server, name, version)
        grant = self._grants.get(key)
        if grant is not None and grant.usable():
            return grant
        response = yield from fetch(
            read(
                token_route.sync_detailed,
                token_route.asyncio_detailed,
                name,
                version,
                client=api,
                body=SkeletonTokenRequest(verbose_level=level),
                verbose_level=level,
            )
        )
        grant = BucketGrant.from_model(parsed(response, SkeletonToken))
        self._grants[key] = grant
        return grant


# ---------------------------------------------------------------- checking arguments


def _skeleton_version(value: Any, parameter: str = "skeleton_version") -> int:
    if isinstance(value, bool) or not _is_integer(value) or int(value) not in SKELETON_VERSIONS:
        allowed = ", ".join(map(str, SKELETON_VERSIONS))
        # caveclient's wording, so checks written against its messages still match.
        raise InvalidInputError(
            parameter, f"Unknown skeleton version: {value!r}. Valid options: [{allowed}]"
        )
    return int(value)


def _server_format(output_format: Any, *, bulk_cached: bool = False) -> str:
    """The server's payload format for `output_format`, refused in the wording caveclient uses for
    the calling method (`bulk_cached`: fetch_skeletons)."""
    if not isinstance(output_format, str) or output_format not in SERVER_FORMATS:
        if bulk_cached:
            problem = f"output_format must be 'dict' or 'swc', got {output_format!r}"
        else:
            problem = f"Unknown output format: {output_format}. Valid options: ['dict', 'swc']"
        raise InvalidInputError("output_format", problem)
    return SERVER_FORMATS[output_format]


def _verbose_level(value: Any) -> int:
    if value is None:
        return 0
    return _count("verbose_level", value)


def _count(parameter: str, value: Any) -> int:
    if isinstance(value, bool) or not _is_integer(value) or int(value) < 0:
        raise InvalidInputError(parameter, f"must be a whole number of 0 or more, not {value!r}")
    return int(value)


def _flag(parameter: str, value: Any) -> bool:
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise InvalidInputError(parameter, f"must be True or False, not {value!r}")
    return bool(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) or (type(value).__module__ == "numpy" and hasattr(value, "__index__"))


def _digits_to_int(value: Any) -> Any:
    """caveclient also takes one root id as a decimal string."""
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise InvalidInputError("root_ids", f"{value!r} is not a root id")
        return int(value)
    return value


def _unique_ids(parameter: str, values: Any) -> list[int]:
    """Root ids as Python ints, first occurrence kept (asking twice for one id gains nothing)."""
    return list(dict.fromkeys(as_id_array(parameter, values).tolist()))


def _prefixes(value: Any) -> str:
    """Root-id prefixes (a number, a comma list, or a list of them) as the route's comma list."""
    if isinstance(value, str | bytes) or _is_integer(value) or not isinstance(value, Iterable):
        value = [value]
    parts: list[str] = []
    for item in value:
        if _is_integer(item) and not isinstance(item, bool) and int(item) >= 0:
            parts.append(str(int(item)))
        elif isinstance(item, str):
            parts.extend(part.strip() for part in item.split(","))
        else:
            raise InvalidInputError("root_id_prefixes", f"{item!r} is not a decimal root-id prefix")
    if not parts or not all(part.isdigit() for part in parts):
        raise InvalidInputError("root_id_prefixes", f"{value!r} holds a prefix that is not decimal")
    return ",".join(parts)


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


# ---------------------------------------------------------------- reading answers


def _decoded(what: str, decode: Callable[[bytes], T], content: bytes) -> T:
    """`decode(content)`, a malformed payload raised as UnexpectedResponseError naming `what`."""
    try:
        return decode(content)
    except (ValueError, OSError, EOFError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise UnexpectedResponseError(f"could not read {what}: {error}") from error


def _decode_payloads(
    payloads: dict[str, str], output_format: str
) -> tuple[dict[str, BulkSkeleton], dict[str, list[int]]]:
    """Bulk values (hex payloads or markers) decoded, and the ids without a skeleton by reason.

    "dict" skeletons stay the JSON documents they are (lists, not arrays), as caveclient returns
    them from the bulk routes."""
    decode: Callable[[bytes], BulkSkeleton] = swc_frame if output_format == "swc" else skeleton_json
    skeletons: dict[str, BulkSkeleton] = {}
    problems: dict[str, list[int]] = {}
    for key, value in payloads.items():
        if value in MARKER_REASONS:
            problems.setdefault(MARKER_REASONS[value], []).append(int(key))
            continue
        try:
            skeletons[key] = decode(bytes.fromhex(value))
        except (ValueError, OSError, EOFError, TypeError, UnicodeDecodeError) as error:
            logger.warning("could not read the skeleton of root id %s: %s", key, error)
            problems.setdefault("unreadable", []).append(int(key))
    return skeletons, problems


def _report_missing(
    ids: list[int], skeletons: dict[str, Any], problems: dict[str, list[int]], *, absent: str
) -> None:
    """Warn (and log) which requested ids have no skeleton in the result, and why."""
    explained = {root for roots in problems.values() for root in roots}
    unanswered = [root for root in ids if str(root) not in skeletons and root not in explained]
    reasons = dict(problems)
    if unanswered:
        reasons.setdefault(absent, []).extend(unanswered)
    if not reasons:
        return
    count = sum(len(roots) for roots in reasons.values())
    parts = []
    for reason, roots in reasons.items():
        shown = ", ".join(map(str, roots[:SHOWN_IDS]))
        more = f" and {len(roots) - SHOWN_IDS} more" if len(roots) > SHOWN_IDS else ""
        parts.append(f"{len(roots)} {reason}: {shown}{more}")
    message = f"{count} of {len(ids)} root ids have no skeleton in the result ({'; '.join(parts)})"
    logger.warning("%s", message)
    warnings.warn(message, MissingSkeletonsWarning, stacklevel=2)


def _layers(graph: Any, volume_of: Callable[[], Any] | None, root: int) -> Plan[tuple[Any, Any]]:
    """The layer of `root` and the graph's root layer, or (None, None) when they cannot be told."""
    from .chunkedgraph import ChunkedGraphClient

    if volume_of is not None:
        volume = replaced_result("segmentation_cloudvolume", volume_of())
        if not volume:
            return None, None
        return volume.meta.decode_layer_id(root), volume.meta.n_layers
    info = yield from ChunkedGraphClient.segmentation_info.plan(graph)
    settings = info.get("graph", {})
    layers = settings.get("n_layers")
    bits = settings.get("n_bits_for_layer_id", 8)
    if isinstance(layers, int) and isinstance(bits, int) and 0 < bits < 64:
        return root >> (64 - bits), layers
    return None, None


def _exists_answer(chunk: list[int], answer: Any) -> dict[int, bool]:
    """Whether each id of `chunk` is cached, from the service's answer: a bare bool for one id, else
    an object of id -> bool. Every asked id must be answered; ids not asked are not part of the
    question and are left out."""
    if isinstance(answer, bool) and len(chunk) == 1:
        return {chunk[0]: answer}
    if not isinstance(answer, SkeletonsExistMap):
        raise UnexpectedResponseError(
            f"skeletons_exist answered {type(answer).__name__} for {len(chunk)} root ids"
        )
    answered: dict[int, Any] = {}
    for key, value in answer.additional_properties.items():
        if str(key).isdigit():
            answered[int(key)] = value
    unanswered = [root for root in chunk if not isinstance(answered.get(root), bool)]
    if unanswered:
        shown = ", ".join(map(str, unanswered[:SHOWN_IDS]))
        raise UnexpectedResponseError(
            f"skeletons_exist gave no true/false answer for {len(unanswered)} of the "
            f"{len(chunk)} root ids asked: {shown}"
        )
    return {root: answered[root] for root in chunk}


def _forward_warnings(response: RawResponse[Any], log_warning: bool) -> None:
    """The server's Warning headers as Python warnings (unless `log_warning` is False)."""
    if not log_warning:
        return
    headers = response.headers
    values = headers.get_list("warning") if hasattr(headers, "get_list") else []
    for value in values:
        warnings.warn(f"skeleton service: {value}", UserWarning, stacklevel=2)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds / 3600:.1f} hours"
