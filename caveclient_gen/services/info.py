"""`client.info`: datastacks, aligned volumes and image sources (the info service)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from caveclient_gen_api.info.api.aligned_volumes import (
    get_aligned_volume_by_id,
    get_aligned_volumes,
    get_datastacks_by_aligned_volume,
)
from caveclient_gen_api.info.api.datastacks import get_datastacks, get_image_sources
from caveclient_gen_api.info.models.aligned_volume import AlignedVolume
from caveclient_gen_api.info.models.image_source import ImageSource

from .._convert.sources import format_source
from .._http.parse import parsed, parsed_list
from .._http.plan import M, Plan, api_method, api_property, fetch, read
from ..errors import InvalidInputError
from ..records.global_services import AlignedVolumeInfo, DatastackInfo, ImageMirror
from ._base import ServiceClient

if TYPE_CHECKING:
    import numpy as np


class InfoServiceClient(ServiceClient[M]):
    """The info service: which datastacks exist, where their services and data live."""

    _SERVER_KEY = "i_server_address"
    _API_VERSION = 2
    _VERSION_ROUTE = ("info", "version.get_version")

    @property
    def datastack_name(self) -> str | None:
        """The datastack this client was created for (None on a global-only client).

        Makes no request.
        """
        return self._deployment.datastack_name

    @property
    def info_cache(self) -> dict[str, Any]:
        """The datastack records fetched so far, by datastack name (a copy; makes no request)."""
        return dict(self._deployment.stored_records())

    @property
    def default_url_mapping(self) -> dict[str, str]:
        """caveclient's URL template values: the global server and the datastack name; a copy."""
        mapping = {self._SERVER_KEY: self.server_address}
        if self._deployment.datastack_name:
            mapping["datastack_name"] = self._deployment.datastack_name
        return mapping

    @api_property
    def aligned_volume_name(self) -> Plan[str]:
        """Name of the datastack's aligned volume (the coordinate space its data share).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        return (yield from self._deployment.aligned_volume_name())

    @api_property
    def aligned_volume_id(self) -> Plan[int]:
        """Numeric id of the datastack's aligned volume.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        record = yield from self._deployment.datastack_info()
        return int(_aligned_volume(record)["id"])

    # ------------------------------------------------------------ listings

    @api_method
    def get_datastacks(self) -> Plan[list[str]]:
        """Names of the datastacks the token may view.

        Calls ``GET /info/api/v2/datastacks`` on the global server.

        Returns
        -------
        list of str
            Datastack names, in the server's order.

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(
                get_datastacks.sync_detailed,
                get_datastacks.asyncio_detailed,
                client=self._deployment.info_api(),
            )
        )
        return parsed_list(response, str)

    @api_method
    def get_aligned_volumes(self) -> Plan[list[str]]:
        """Names of the aligned volumes the token may view.

        Calls ``GET /info/api/v2/aligned_volume``.

        Returns
        -------
        list of str
            Aligned volume names.

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(
                get_aligned_volumes.sync_detailed,
                get_aligned_volumes.asyncio_detailed,
                client=self._deployment.info_api(),
            )
        )
        return parsed_list(response, str)

    @api_method
    def get_datastacks_by_aligned_volume(self, aligned_volume: str | None = None) -> Plan[list[str]]:
        """Datastacks built on one aligned volume.

        Calls ``GET /info/api/v2/aligned_volume/{aligned_volume}/datastacks`` (and, without
        `aligned_volume`, ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record
        is kept) to find the client's).

        Parameters
        ----------
        aligned_volume : str, optional
            The aligned volume's name (default: the aligned volume of the client's datastack).

        Returns
        -------
        list of str
            Datastack names.

        Raises
        ------
        NotFoundError
            The aligned volume is unknown.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if aligned_volume is None:
            aligned_volume = yield from self._deployment.aligned_volume_name()
        response = yield from fetch(
            read(
                get_datastacks_by_aligned_volume.sync_detailed,
                get_datastacks_by_aligned_volume.asyncio_detailed,
                aligned_volume,
                client=self._deployment.info_api(),
            )
        )
        return parsed_list(response, str)

    # ------------------------------------------------------------ records

    @api_method
    def get_datastack_info(
        self,
        datastack_name: str | None = None,
        use_stored: bool = True,
        image_mirror: str | None = None,
    ) -> Plan[DatastackInfo]:
        """The full record of a datastack: its servers, sources, viewer settings and aligned volume.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.
        image_mirror : str, optional
            The name of an image source from ``get_image_mirror_names()``: the record then carries that
            mirror's path as its aligned volume's ``image_source``. Default: the datastack's own.

        Returns
        -------
        DatastackInfo
            A dict (typed): ``local_server``, ``segmentation_source``, ``synapse_table``, ``soma_table``,
            ``viewer_site``, ``viewer_resolution_x/y/z``, ``aligned_volume`` (a dict with ``name``,
            ``id``, ``image_source``, ``description``), and the other fields the server sends.

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
        record = yield from self._deployment.datastack_info(
            datastack_name, image_mirror=image_mirror, use_stored=use_stored
        )
        return cast(DatastackInfo, dict(record))

    @api_method
    def get_aligned_volume_info(
        self,
        datastack_name: str | None = None,
        use_stored: bool = True,
        image_mirror: str | None = None,
    ) -> Plan[AlignedVolumeInfo]:
        """The aligned volume record of a datastack.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.
        image_mirror : str, optional
            An image source name (see ``get_image_mirror_names()``) whose path replaces ``image_source``.

        Returns
        -------
        AlignedVolumeInfo
            A dict: ``name``, ``id``, ``image_source``, ``description`` and the other fields the server
            sends.

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
        record = yield from self._deployment.datastack_info(
            datastack_name, image_mirror=image_mirror, use_stored=use_stored
        )
        return cast(AlignedVolumeInfo, dict(_aligned_volume(record)))

    @api_method
    def get_aligned_volume_info_by_id(
        self, aligned_volume_id: int | None = None, use_stored: bool = True
    ) -> Plan[AlignedVolumeInfo]:
        """An aligned volume record, by its numeric id.

        Calls ``GET /info/api/v2/aligned_volume/id/{id}`` (and, without an id,
        ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept)).

        Parameters
        ----------
        aligned_volume_id : int, optional
            The aligned volume's id (default: the aligned volume of the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.

        Returns
        -------
        AlignedVolumeInfo
            A dict: ``name``, ``id``, ``image_source``, ``description``, ...

        Raises
        ------
        NotFoundError
            No aligned volume has this id.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if aligned_volume_id is None:
            record = yield from self._deployment.datastack_info(use_stored=use_stored)
            aligned_volume_id = int(_aligned_volume(record)["id"])
        response = yield from fetch(
            read(
                get_aligned_volume_by_id.sync_detailed,
                get_aligned_volume_by_id.asyncio_detailed,
                aligned_volume_id,
                client=self._deployment.info_api(),
            )
        )
        return cast(AlignedVolumeInfo, parsed(response, AlignedVolume).to_dict())

    @api_method
    def get_image_mirrors(self, datastack_name: str | None = None) -> Plan[list[ImageMirror]]:
        """Every image source of a datastack: its default and its mirrors.

        Calls ``GET /info/api/v2/datastack/{datastack}/image_sources``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).

        Returns
        -------
        list of ImageMirror
            One dict per source: ``name``, ``image_source`` (its path), ``default`` and the other fields
            the server sends.

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
        name = self._deployment.require_datastack(datastack_name)
        response = yield from fetch(
            read(
                get_image_sources.sync_detailed,
                get_image_sources.asyncio_detailed,
                name,
                client=self._deployment.info_api(),
            )
        )
        return [cast(ImageMirror, source.to_dict()) for source in parsed_list(response, ImageSource)]

    @api_method
    def get_image_mirror_names(self, datastack_name: str | None = None) -> Plan[list[str]]:
        """Names of the image sources of a datastack, for ``image_mirror=``.

        Calls ``GET /info/api/v2/datastack/{datastack}/image_sources``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).

        Returns
        -------
        list of str
            Image source names.

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
        mirrors = yield from InfoServiceClient.get_image_mirrors.plan(self, datastack_name)
        return [str(mirror["name"]) for mirror in mirrors]

    @api_method
    def refresh_stored_data(self) -> Plan[None]:
        """Fetch again every datastack record this client keeps (after a server-side change).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept)
        once per kept record.

        Returns
        -------
        None

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        for name in self._deployment.stored_datastacks():
            yield from self._deployment.datastack_info(name, use_stored=False)

    # ------------------------------------------------------------ fields of the record

    @api_method
    def local_server(self, datastack_name: str | None = None, use_stored: bool = True) -> Plan[str]:
        """Address of the datastack's local server (materialize, chunkedgraph, annotation, L2 cache,
        skeletons).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.

        Returns
        -------
        str
            A URL such as ``https://minnie.microns-daf.com``.

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
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        return str(record["local_server"])

    @api_method
    def annotation_endpoint(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str]:
        """Address of the datastack's annotation service: the local server followed by ``/annotation``.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.

        Returns
        -------
        str
            A URL.

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
        server = yield from InfoServiceClient.local_server.plan(self, datastack_name, use_stored)
        return server.rstrip("/") + "/annotation"

    @api_method
    def image_source(
        self,
        datastack_name: str | None = None,
        use_stored: bool = True,
        format_for: str = "raw",
        image_mirror: str | None = None,
    ) -> Plan[str]:
        """Path of the datastack's imagery.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.
        format_for : str, default "raw"
            How to write the path: ``"raw"`` (as stored), ``"cloudvolume"``, ``"neuroglancer"``,
            ``"cave_explorer"`` / ``"cave-explorer"`` or ``"spelunker"``.
        image_mirror : str, optional
            An image source name (see ``get_image_mirror_names()``); default: the datastack's own.

        Returns
        -------
        str
            A cloud path such as ``precomputed://gs://...``, formatted for `format_for`.

        Raises
        ------
        InvalidInputError
            `format_for` is not one of the accepted names.
        GlobalClientError
            No datastack was given and the client has none.
        NotFoundError, BadRequestError
            The datastack is unknown (the message lists the datastacks the token can see).
        AuthenticationError
            The token is missing, invalid or expired.
        """
        record = yield from self._deployment.datastack_info(
            datastack_name, image_mirror=image_mirror, use_stored=use_stored
        )
        return format_source(str(_aligned_volume(record)["image_source"]), format_for)

    @api_method
    def segmentation_source(
        self, datastack_name: str | None = None, use_stored: bool = True, format_for: str = "raw"
    ) -> Plan[str]:
        """Path of the datastack's segmentation (``graphene://...`` for a chunkedgraph).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.
        format_for : str, default "raw"
            How to write the path: ``"raw"`` (as stored), ``"cloudvolume"``, ``"neuroglancer"``,
            ``"cave_explorer"`` / ``"cave-explorer"`` or ``"spelunker"``.

        Returns
        -------
        str
            The segmentation path, formatted for `format_for`.

        Raises
        ------
        InvalidInputError
            `format_for` is unknown, or the record has no segmentation source.
        GlobalClientError
            No datastack was given and the client has none.
        NotFoundError, BadRequestError
            The datastack is unknown (the message lists the datastacks the token can see).
        AuthenticationError
            The token is missing, invalid or expired.
        """
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        return format_source(_required(record, "segmentation_source"), format_for)

    @api_method
    def synapse_segmentation_source(
        self, datastack_name: str | None = None, use_stored: bool = True, format_for: str = "raw"
    ) -> Plan[str]:
        """Path of the segmentation the synapse table was computed on (default: the segmentation source).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.
        format_for : str, default "raw"
            How to write the path: ``"raw"`` (as stored), ``"cloudvolume"``, ``"neuroglancer"``,
            ``"cave_explorer"`` / ``"cave-explorer"`` or ``"spelunker"``.

        Returns
        -------
        str
            A segmentation path, formatted for `format_for`.

        Raises
        ------
        InvalidInputError
            `format_for` is unknown, or the record has no segmentation source.
        GlobalClientError
            No datastack was given and the client has none.
        NotFoundError, BadRequestError
            The datastack is unknown (the message lists the datastacks the token can see).
        AuthenticationError
            The token is missing, invalid or expired.
        """
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        source = record.get("synapse_segmentation_source") or _required(record, "segmentation_source")
        return format_source(str(source), format_for)

    @api_method
    def viewer_site(self, datastack_name: str | None = None, use_stored: bool = True) -> Plan[str]:
        """Base URL of the datastack's Neuroglancer deployment.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.

        Returns
        -------
        str
            A URL.

        Raises
        ------
        InvalidInputError
            The record names no viewer site.
        GlobalClientError
            No datastack was given and the client has none.
        NotFoundError, BadRequestError
            The datastack is unknown (the message lists the datastacks the token can see).
        AuthenticationError
            The token is missing, invalid or expired.
        """
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        return _required(record, "viewer_site")

    @api_method
    def viewer_resolution(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[np.ndarray[Any, np.dtype[np.float64]]]:
        """Voxel size of the datastack's viewer.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        datastack_name : str, optional
            The datastack to look up (default: the client's datastack).
        use_stored : bool, default True
            Use the datastack record this client already fetched; False fetches it again.

        Returns
        -------
        numpy.ndarray
            Float64 array ``[x, y, z]`` in nm per voxel; NaN where the record leaves an axis out.

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
        import numpy as np

        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        values = [record.get(f"viewer_resolution_{axis}") for axis in "xyz"]
        return np.array([np.nan if value is None else float(value) for value in values])

    # ------------------------------------------------------------ CloudVolume

    @api_method
    def image_cloudvolume(self, /, image_mirror: str | None = None, **kwargs: Any) -> Plan[Any]:
        """A ``cloudvolume.CloudVolume`` of the imagery (needs the optional ``cloud-volume`` package).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        image_mirror : str, optional
            An image source name (see ``get_image_mirror_names()``); default: the datastack's own.
        **kwargs
            Passed to CloudVolume; defaults ``use_https=True``, ``bounded=False``, ``fill_missing=True``,
            each overridable.

        Returns
        -------
        cloudvolume.CloudVolume
            The volume, at the imagery's path formatted for CloudVolume.

        Raises
        ------
        ImportError
            cloud-volume is not installed (the message names it).
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        """
        source = yield from InfoServiceClient.image_source.plan(
            self, format_for="cloudvolume", image_mirror=image_mirror
        )
        options = {"use_https": True, "bounded": False, "fill_missing": True, **kwargs}
        return _cloudvolume()(source, **options)

    @api_method
    def segmentation_cloudvolume(self, /, use_client_secret: bool = True, **kwargs: Any) -> Plan[Any]:
        """A ``cloudvolume.CloudVolume`` of the segmentation (needs the optional ``cloud-volume``
        package).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).

        Parameters
        ----------
        use_client_secret : bool, default True
            Hand this client's token to CloudVolume for ``graphene://`` paths (they point at this
            datastack's own CAVE server), unless ``secrets`` is passed.
        **kwargs
            Passed to CloudVolume; defaults ``use_https=True``, ``bounded=False``, ``fill_missing=True``.

        Returns
        -------
        cloudvolume.CloudVolume
            The volume, at the segmentation's path formatted for CloudVolume.

        Raises
        ------
        ImportError
            cloud-volume is not installed (the message names it).
        GlobalClientError
            No datastack was given and the client has none.
        AuthenticationError
            The token is missing, invalid or expired.
        """
        source = yield from InfoServiceClient.segmentation_source.plan(self, format_for="cloudvolume")
        options = {"use_https": True, "bounded": False, "fill_missing": True, **kwargs}
        if use_client_secret and source.startswith("graphene://") and "secrets" not in options:
            token = self._core.token()
            if token:
                options["secrets"] = {"token": token}
        return _cloudvolume()(source, **options)


def _aligned_volume(record: dict[str, Any]) -> dict[str, Any]:
    volume = record.get("aligned_volume")
    if not isinstance(volume, dict):
        raise InvalidInputError("datastack_name", "the datastack record has no aligned volume")
    return volume


def _required(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInputError("datastack_name", f"the datastack record has no {field}")
    return value


def _cloudvolume() -> Any:
    try:
        from cloudvolume import CloudVolume
    except ImportError:
        raise ImportError(
            "this needs the optional package cloud-volume: pip install cloud-volume"
        ) from None
    return CloudVolume
