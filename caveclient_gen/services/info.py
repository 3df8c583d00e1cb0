"""`client.info`: datastacks, aligned volumes and image sources (the info service)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from cave_api.info.api.aligned_volumes import (
    get_aligned_volume_by_id,
    get_aligned_volumes,
    get_datastacks_by_aligned_volume,
)
from cave_api.info.api.datastacks import get_datastacks, get_image_sources
from cave_api.info.models.aligned_volume import AlignedVolume
from cave_api.info.models.image_source import ImageSource

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
        """Name of the datastack's aligned volume."""
        return (yield from self._deployment.aligned_volume_name())

    @api_property
    def aligned_volume_id(self) -> Plan[int]:
        """Id of the datastack's aligned volume."""
        record = yield from self._deployment.datastack_info()
        return int(_aligned_volume(record)["id"])

    # ------------------------------------------------------------ listings

    @api_method
    def get_datastacks(self) -> Plan[list[str]]:
        """Names of the datastacks the token may view."""
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
        """Names of the aligned volumes the token may view."""
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
        """Datastacks built on an aligned volume (default: this datastack's)."""
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
        """The full record of a datastack (fetched once, then kept unless `use_stored=False`).

        `image_mirror` names an image source from get_image_mirror_names(): the record then
        carries that mirror's path as its aligned volume's image source.
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
        """The aligned volume record of a datastack."""
        record = yield from self._deployment.datastack_info(
            datastack_name, image_mirror=image_mirror, use_stored=use_stored
        )
        return cast(AlignedVolumeInfo, dict(_aligned_volume(record)))

    @api_method
    def get_aligned_volume_info_by_id(
        self, aligned_volume_id: int | None = None, use_stored: bool = True
    ) -> Plan[AlignedVolumeInfo]:
        """An aligned volume record by id (default: this datastack's aligned volume)."""
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
        """Every image source of a datastack: its default and its mirrors."""
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
        """Names of the image sources of a datastack, for `image_mirror=`."""
        mirrors = yield from InfoServiceClient.get_image_mirrors.plan(self, datastack_name)
        return [str(mirror["name"]) for mirror in mirrors]

    @api_method
    def refresh_stored_data(self) -> Plan[None]:
        """Fetch again every datastack record this client keeps."""
        for name in self._deployment.stored_datastacks():
            yield from self._deployment.datastack_info(name, use_stored=False)

    # ------------------------------------------------------------ fields of the record

    @api_method
    def local_server(self, datastack_name: str | None = None, use_stored: bool = True) -> Plan[str]:
        """Address of the datastack's local services (materialize, chunkedgraph, …)."""
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        return str(record["local_server"])

    @api_method
    def annotation_endpoint(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[str]:
        """Address of the datastack's annotation service."""
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
        """Path of the datastack's imagery, formatted for `format_for` (raw, cloudvolume,
        neuroglancer, cave_explorer, cave-explorer or spelunker)."""
        record = yield from self._deployment.datastack_info(
            datastack_name, image_mirror=image_mirror, use_stored=use_stored
        )
        return format_source(str(_aligned_volume(record)["image_source"]), format_for)

    @api_method
    def segmentation_source(
        self, datastack_name: str | None = None, use_stored: bool = True, format_for: str = "raw"
    ) -> Plan[str]:
        """Path of the datastack's segmentation, formatted for `format_for`."""
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        return format_source(_required(record, "segmentation_source"), format_for)

    @api_method
    def synapse_segmentation_source(
        self, datastack_name: str | None = None, use_stored: bool = True, format_for: str = "raw"
    ) -> Plan[str]:
        """Path of the segmentation the synapse table was computed on, formatted for `format_for`."""
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        source = record.get("synapse_segmentation_source") or _required(record, "segmentation_source")
        return format_source(str(source), format_for)

    @api_method
    def viewer_site(self, datastack_name: str | None = None, use_stored: bool = True) -> Plan[str]:
        """Base URL of the datastack's Neuroglancer deployment."""
        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        return _required(record, "viewer_site")

    @api_method
    def viewer_resolution(
        self, datastack_name: str | None = None, use_stored: bool = True
    ) -> Plan[np.ndarray[Any, np.dtype[np.float64]]]:
        """Voxel size (nm) of the datastack's viewer, as an array [x, y, z]."""
        import numpy as np

        record = yield from self._deployment.datastack_info(datastack_name, use_stored=use_stored)
        values = [record.get(f"viewer_resolution_{axis}") for axis in "xyz"]
        return np.array([np.nan if value is None else float(value) for value in values])

    # ------------------------------------------------------------ CloudVolume

    @api_method
    def image_cloudvolume(self, /, image_mirror: str | None = None, **kwargs: Any) -> Plan[Any]:
        """A cloudvolume.CloudVolume of the imagery (needs the optional `cloud-volume` package).

        Defaults passed to CloudVolume, each overridable: use_https=True, bounded=False,
        fill_missing=True.
        """
        source = yield from InfoServiceClient.image_source.plan(
            self, format_for="cloudvolume", image_mirror=image_mirror
        )
        options = {"use_https": True, "bounded": False, "fill_missing": True, **kwargs}
        return _cloudvolume()(source, **options)

    @api_method
    def segmentation_cloudvolume(self, /, use_client_secret: bool = True, **kwargs: Any) -> Plan[Any]:
        """A cloudvolume.CloudVolume of the segmentation (needs the optional `cloud-volume`).

        With `use_client_secret`, this client's token is handed to CloudVolume for graphene paths
        (they point at this datastack's own CAVE server).
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
