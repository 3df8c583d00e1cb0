"""`client.annotation`: the live annotation tables of an aligned volume (the annotation engine).

The engine lives on the datastack's local server and is keyed by aligned volume name. Writes (table
creation, inserts, updates, deletes) are never replayed after a failure the server may have acted on;
large uploads go through `stage_annotations` / `upload_staged_annotations`, which send batches and
report exactly which rows were written when a batch fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from caveclient_gen_api.annotation.api.annotations import (
    delete_annotations,
    get_annotations,
    post_annotations,
    update_annotations,
)
from caveclient_gen_api.annotation.api.tables import (
    create_table,
    delete_table,
    get_annotation_count,
    get_table_metadata,
    get_tables,
    update_table_metadata,
)
from caveclient_gen_api.annotation.client import Client as AnnotationAPI
from caveclient_gen_api.annotation.models.annotation import Annotation
from caveclient_gen_api.annotation.models.annotation_id_map import AnnotationIdMap
from caveclient_gen_api.annotation.models.annotation_record import (
    AnnotationRecord as AnnotationRecordModel,
)
from caveclient_gen_api.annotation.models.annotation_table_metadata import (
    AnnotationTableMetadata as AnnotationTableMetadataModel,
)
from caveclient_gen_api.annotation.models.annotation_update import AnnotationUpdate
from caveclient_gen_api.annotation.models.create_table_metadata import CreateTableMetadata
from caveclient_gen_api.annotation.models.create_table_request import CreateTableRequest
from caveclient_gen_api.annotation.models.delete_annotations_request import DeleteAnnotationsRequest
from caveclient_gen_api.annotation.models.insert_annotations_request import InsertAnnotationsRequest
from caveclient_gen_api.annotation.models.table_permission import TablePermission
from caveclient_gen_api.annotation.models.table_reference_options import TableReferenceOptions
from caveclient_gen_api.annotation.models.update_annotations_request import UpdateAnnotationsRequest
from caveclient_gen_api.annotation.models.update_table_metadata import UpdateTableMetadata
from caveclient_gen_api.annotation.models.update_table_request import UpdateTableRequest
from caveclient_gen_api.schema.api.schemas import get_schema_definition
from caveclient_gen_api.schema.client import Client as SchemaAPI
from caveclient_gen_api.schema.models.json_schema_document import JsonSchemaDocument

from .. import _defaults
from .._convert.values import as_id_array, as_resolution, as_utc, check_json
from .._http.parse import parsed, parsed_list
from .._http.plan import M, Plan, api_method, api_property, fetch, fetch_all, read, write
from .._http.progress import ProgressSwitch
from .._http.retry import RequestNotSentError
from .._tables.frames import query_headers, raise_server_warnings
from .._tables.stage import StagedAnnotations, plain
from ..errors import AnnotationUploadError, CAVEError, CAVEStatusError, InvalidInputError
from ..records.tables import AnnotationRecord, AnnotationTableMetadata
from ._base import ServiceClient

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AnnotationClient", "AnnotationUploadError", "StagedAnnotations"]

PERMISSIONS = ("PRIVATE", "GROUP", "PUBLIC")
TABLE_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def _table_name(parameter: str, value: Any) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidInputError(parameter, f"{value!r} is not a table name")
    return value


def _new_table_name(value: Any) -> str:
    name = _table_name("table_name", value)
    if not set(name) <= TABLE_NAME_CHARACTERS or name[0].isdigit():
        raise InvalidInputError(
            "table_name",
            f"{name!r} must hold only lower-case letters, digits and _, and not start with a digit",
        )
    return name


def _permission(parameter: str, value: Any) -> TablePermission:
    if value not in PERMISSIONS:
        raise InvalidInputError(parameter, f"must be one of {', '.join(PERMISSIONS)}, not {value!r}")
    return TablePermission(value)


def _notice(value: str) -> str:
    # caveclient's convention: "none" (any case) clears the notice.
    return "" if value.lower() == "none" else value


def _annotations(parameter: str, data: Any) -> list[dict[str, Any]]:
    """One annotation or a list of them, as plain JSON dicts (numpy values converted, NaN as null)."""
    items = [data] if isinstance(data, Mapping) else data
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise InvalidInputError(parameter, "must be an annotation dict or a list of them")
    annotations = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInputError(parameter, f"item {index} is a {type(item).__name__}, not a dict")
        annotation = {str(key): plain(value) for key, value in item.items()}
        check_json(f"{parameter}[{index}]", annotation)
        annotations.append(annotation)
    if not annotations:
        raise InvalidInputError(parameter, "holds no annotation")
    if len(annotations) > _defaults.ANNOTATION_ROWS_PER_POST:
        raise InvalidInputError(
            parameter,
            f"holds {len(annotations)} annotations; the server takes at most "
            f"{_defaults.ANNOTATION_ROWS_PER_POST} per request. Use stage_annotations() and "
            "upload_staged_annotations(), which upload in batches and report partial failures.",
        )
    return annotations


def _metadata_record(model: AnnotationTableMetadataModel) -> AnnotationTableMetadata:
    record = model.to_dict()
    record["voxel_resolution"] = [record.pop(f"voxel_resolution_{axis}", None) for axis in "xyz"]
    return cast(AnnotationTableMetadata, record)


def _chunks(values: list[int], size: int) -> list[list[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def _batch_outcome(error: Exception) -> Literal["rejected", "unknown"]:
    """Whether a failed write certainly wrote nothing (refused, or never sent) or may have."""
    if isinstance(error, RequestNotSentError):
        return "rejected"
    if isinstance(error, CAVEStatusError) and error.status_code < 500:
        return "rejected"
    return "unknown"


class AnnotationClient(ServiceClient[M]):
    """The annotation engine: create annotation tables and insert, read, update, delete rows."""

    _SERVER_KEY = "ae_server_address"
    _API_VERSION = 2
    _LOCAL = True

    def _api(self) -> Plan[AnnotationAPI]:
        server = yield from self._deployment.local_server()
        return self._session.api(AnnotationAPI, server)

    def _volume(self, aligned_volume_name: str | None) -> Plan[str]:
        if aligned_volume_name is not None:
            return _table_name("aligned_volume_name", aligned_volume_name)
        return (yield from self._deployment.aligned_volume_name())

    @api_property
    def aligned_volume_name(self) -> Plan[str]:
        """The aligned volume of the client's datastack (where its annotation tables live).

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        return (yield from self._deployment.aligned_volume_name())

    # ------------------------------------------------------------ tables

    @api_method
    def get_tables(
        self, aligned_volume_name: str | None = None, timestamp: datetime | None = None
    ) -> Plan[list[str]]:
        """Names of the annotation tables of an aligned volume.

        Calls ``GET /annotation/api/v2/aligned_volume/{aligned_volume}/table``.

        Parameters
        ----------
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).
        timestamp : datetime.datetime, optional
            Accepted for caveclient compatibility (timezone-aware); the annotation engine does not filter
            by it, so the current tables are listed, with a warning.

        Returns
        -------
        list of str
            Table names.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if timestamp is not None:
            as_utc("timestamp", timestamp)
            warnings.warn(
                "the annotation service ignores timestamp: the current tables are listed",
                UserWarning,
                stacklevel=3,
            )
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            read(get_tables.sync_detailed, get_tables.asyncio_detailed, volume, client=api)
        )
        return parsed_list(response, str)

    @api_method
    def get_annotation_count(self, table_name: str, aligned_volume_name: str | None = None) -> Plan[int]:
        """Number of rows stored in a table (superseded and deleted rows included).

        Calls ``GET /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/count``.

        Parameters
        ----------
        table_name : str
            The annotation table.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        int
            The row count.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            read(
                get_annotation_count.sync_detailed,
                get_annotation_count.asyncio_detailed,
                volume,
                table,
                client=api,
            )
        )
        return parsed(response, int)

    @api_method
    def get_table_metadata(
        self, table_name: str, aligned_volume_name: str | None = None
    ) -> Plan[AnnotationTableMetadata]:
        """Metadata of an annotation table.

        Calls ``GET /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}``.

        Parameters
        ----------
        table_name : str
            The annotation table.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        AnnotationTableMetadata
            A dict: ``table_name``, ``schema_type``, ``description``, ``user_id``, ``created``,
            ``read_permission``, ``write_permission``, ``reference_table``, ``notice_text``,
            ``voxel_resolution`` (``[x, y, z]`` nm), ...

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            read(
                get_table_metadata.sync_detailed,
                get_table_metadata.asyncio_detailed,
                volume,
                table,
                client=api,
            )
        )
        raise_server_warnings(query_headers(response.headers).warnings)
        return _metadata_record(parsed(response, AnnotationTableMetadataModel))

    @api_method
    def delete_table(self, table_name: str, aligned_volume_name: str | None = None) -> Plan[bool]:
        """Mark a table as deleted (its owner only); its rows are kept but no longer materialized.

        Calls ``DELETE /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}``. Never
        retried once the request may have reached the server.

        Parameters
        ----------
        table_name : str
            The annotation table.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        bool
            True when the server confirmed.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            write(delete_table.sync_detailed, delete_table.asyncio_detailed, volume, table, client=api)
        )
        return parsed(response, bool)

    @api_method
    def create_table(
        self,
        table_name: str,
        schema_name: str,
        description: str,
        voxel_resolution: Sequence[float],
        reference_table: str | None = None,
        track_target_id_updates: bool | None = None,
        flat_segmentation_source: str | None = None,
        user_id: int | None = None,
        aligned_volume_name: str | None = None,
        write_permission: str = "PRIVATE",
        read_permission: str = "PUBLIC",
        notice_text: str | None = None,
    ) -> Plan[str]:
        """Create an empty annotation table of a schema type.

        Calls ``POST /annotation/api/v2/aligned_volume/{aligned_volume}/table``. Never retried once the
        request may have reached the server.

        Parameters
        ----------
        table_name : str
            The new table's name (letters, digits and underscores).
        schema_name : str
            The annotation schema (see ``client.schema.get_schemas()``).
        description : str
            What the table holds, who made it and how (required, non-empty).
        voxel_resolution : sequence of float
            nm per unit of the positions that will be stored, ``[x, y, z]``.
        reference_table : str, optional
            For reference schemas: the table whose rows these annotations point to.
        track_target_id_updates : bool, optional
            For reference schemas: follow the target rows when they are updated.
        flat_segmentation_source : str, optional
            A flat segmentation the table's points are bound to, instead of the chunkedgraph.
        user_id : int, optional
            Create the table on behalf of this user (admins only).
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).
        write_permission : {"PRIVATE", "GROUP", "PUBLIC"}, default "PRIVATE"
            Who may write rows.
        read_permission : {"PRIVATE", "GROUP", "PUBLIC"}, default "PUBLIC"
            Who may read rows.
        notice_text : str, optional
            A notice shown (as a warning) to everyone who queries the table.

        Returns
        -------
        str
            The new table's name.

        Raises
        ------
        InvalidInputError
            An empty description, a missing or malformed resolution, an unknown permission name.
        ConflictError, BadRequestError
            A table of this name exists, or the server refused the request.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        name = _new_table_name(table_name)
        schema = _table_name("schema_name", schema_name)
        if not isinstance(description, str) or not description.strip():
            raise InvalidInputError("description", "must say what the table holds (non-empty text)")
        resolution = as_resolution("voxel_resolution", voxel_resolution)
        if resolution is None:
            raise InvalidInputError("voxel_resolution", "is required: [x, y, z] nm per unit")
        metadata = CreateTableMetadata(
            description=description,
            voxel_resolution_x=resolution[0],
            voxel_resolution_y=resolution[1],
            voxel_resolution_z=resolution[2],
            read_permission=_permission("read_permission", read_permission),
            write_permission=_permission("write_permission", write_permission),
        )
        if user_id is not None:
            metadata.user_id = str(user_id)
        if notice_text is not None:
            metadata.notice_text = _notice(notice_text)
        if reference_table is not None:
            options = TableReferenceOptions(
                reference_table=_table_name("reference_table", reference_table)
            )
            if track_target_id_updates is not None:
                options.track_target_id_updates = bool(track_target_id_updates)
            metadata.table_metadata = options
        if flat_segmentation_source is not None:
            metadata.flat_segmentation_source = flat_segmentation_source
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            write(
                create_table.sync_detailed,
                create_table.asyncio_detailed,
                volume,
                client=api,
                body=CreateTableRequest(table_name=name, schema_type=schema, metadata=metadata),
            )
        )
        return parsed(response, str).strip() or name

    @api_method
    def update_metadata(
        self,
        table_name: str,
        description: str | None = None,
        flat_segmentation_source: str | None = None,
        read_permission: str | None = None,
        write_permission: str | None = None,
        user_id: int | None = None,
        notice_text: str | None = None,
        aligned_volume_name: str | None = None,
    ) -> Plan[AnnotationTableMetadata]:
        """Change a table's metadata (its owner only); fields left None keep their value.

        Calls ``PUT /annotation/api/v2/aligned_volume/{aligned_volume}/table``.

        Parameters
        ----------
        table_name : str
            The annotation table.
        description : str, optional
            New description.
        flat_segmentation_source : str, optional
            New flat segmentation source.
        read_permission : {"PRIVATE", "GROUP", "PUBLIC"}, optional
            New read permission.
        write_permission : {"PRIVATE", "GROUP", "PUBLIC"}, optional
            New write permission.
        user_id : int, optional
            New owner (admins only).
        notice_text : str, optional
            New notice ("" clears it).
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        AnnotationTableMetadata
            The table's metadata after the change.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        metadata = UpdateTableMetadata()
        if description is not None:
            metadata.description = description
        if read_permission is not None:
            metadata.read_permission = _permission("read_permission", read_permission)
        if write_permission is not None:
            metadata.write_permission = _permission("write_permission", write_permission)
        if flat_segmentation_source is not None:
            metadata.flat_segmentation_source = flat_segmentation_source
        if user_id is not None:
            metadata.user_id = str(user_id)
        if notice_text is not None:
            metadata.notice_text = _notice(notice_text)
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            write(
                update_table_metadata.sync_detailed,
                update_table_metadata.asyncio_detailed,
                volume,
                client=api,
                body=UpdateTableRequest(table_name=table, metadata=metadata),
            )
        )
        return cast(AnnotationTableMetadata, parsed(response, AnnotationTableMetadataModel).to_dict())

    # ------------------------------------------------------------ rows

    @api_method
    def get_annotation(
        self,
        table_name: str,
        annotation_ids: int | Iterable[int],
        aligned_volume_name: str | None = None,
    ) -> Plan[list[AnnotationRecord]]:
        """Rows of a table, by annotation id (ids that do not exist are skipped).

        Calls ``GET /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``,
        in chunks of ``ANNOTATION_IDS_PER_GET`` (400) ids.

        Parameters
        ----------
        table_name : str
            The annotation table.
        annotation_ids : int or iterable of int
            One id or many.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        list of AnnotationRecord
            One dict per row: ``id``, ``created``, ``valid``, and the schema's fields (points as dicts
            with ``position`` ``[x, y, z]``).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        ids = [int(i) for i in as_id_array("annotation_ids", annotation_ids, allow_empty=False).tolist()]
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        requests = [
            read(
                get_annotations.sync_detailed,
                get_annotations.asyncio_detailed,
                volume,
                table,
                client=api,
                annotation_ids=",".join(str(i) for i in chunk),
            )
            for chunk in _chunks(ids, _defaults.ANNOTATION_IDS_PER_GET)
        ]
        responses = yield from fetch_all(
            requests, self._session.settings.bulk_concurrency, "get_annotation"
        )
        if responses:
            raise_server_warnings(query_headers(responses[0].headers).warnings)
        return [
            record.to_dict()
            for response in responses
            for record in parsed_list(response, AnnotationRecordModel)
        ]

    @api_method
    def post_annotation(
        self,
        table_name: str,
        data: dict[str, Any] | list[dict[str, Any]],
        aligned_volume_name: str | None = None,
    ) -> Plan[list[int]]:
        """Insert annotations into a table.

        Calls ``POST /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``.
        Never retried once the request may have reached the server. At most 10,000 per call: use
        ``stage_annotations()`` for more.

        Parameters
        ----------
        table_name : str
            The annotation table.
        data : dict or list of dict
            Annotations shaped by the table's schema, points nested as ``{"position": [x, y, z]}``.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        list of int
            The new annotation ids, in input order.

        Raises
        ------
        InvalidInputError
            More than 10,000 annotations, or data that is not a dict or list of dicts.
        BadRequestError, UnprocessableEntityError
            The server refused the rows (they do not match the schema).
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        annotations = _annotations("data", data)
        return (yield from self._insert(table, annotations, aligned_volume_name))

    def _insert(
        self, table: str, annotations: list[dict[str, Any]], aligned_volume_name: str | None
    ) -> Plan[list[int]]:
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        body = InsertAnnotationsRequest(annotations=[_with_fields(Annotation(), a) for a in annotations])
        response = yield from fetch(
            write(
                post_annotations.sync_detailed,
                post_annotations.asyncio_detailed,
                volume,
                table,
                client=api,
                body=body,
            )
        )
        return parsed_list(response, int)

    @staticmethod
    def process_position_columns(
        df: pd.DataFrame, position_columns: Iterable[str] | Mapping[str, str] | None
    ) -> list[dict[str, Any]]:
        """DataFrame rows as annotations, each position column nested as a point.

        Makes no request.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per annotation.
        position_columns : iterable of str, mapping of str to str, or None
            Which columns hold points: a mapping column -> point field, or a list of columns named
            ``<field>_position``; None takes every column ending in ``_position``. Each value is
            ``[x, y, z]`` in the table's voxel resolution.

        Returns
        -------
        list of dict
            One annotation per row, e.g. ``{"pt": {"position": [x, y, z]}, "tag": ...}``.

        Raises
        ------
        InvalidInputError
            A named column is missing or a position is not three numbers.
        """
        if position_columns is None:
            position_columns = [str(c) for c in df.columns if str(c).endswith("_position")]
        if isinstance(position_columns, Mapping):
            mapping = {str(k): str(v) for k, v in position_columns.items()}
        elif isinstance(position_columns, str) or not isinstance(position_columns, Iterable):
            raise InvalidInputError("position_columns", "must be a list, a dict or None")
        else:
            mapping = {str(c): str(c).rsplit("_", 1)[0] for c in position_columns}
        missing = [column for column in mapping if column not in df.columns]
        if missing:
            raise InvalidInputError("position_columns", f"the DataFrame has no columns {missing}")
        records = []
        for row in df.to_dict(orient="records"):
            record = {str(k): plain(v) for k, v in row.items() if k not in mapping}
            for column, point in mapping.items():
                record[point] = {"position": plain(row[column])}
            records.append(record)
        return records

    @api_method
    def post_annotation_df(
        self,
        table_name: str,
        df: pd.DataFrame,
        position_columns: Iterable[str] | Mapping[str, str] | None,
        aligned_volume_name: str | None = None,
    ) -> Plan[list[int]]:
        """Insert the rows of a DataFrame into a table.

        Calls ``POST /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``
        (see ``post_annotation()``).

        Parameters
        ----------
        table_name : str
            The annotation table.
        df : pandas.DataFrame
            One row per annotation, columns named as the schema's fields.
        position_columns : iterable of str, mapping of str to str, or None
            Which columns hold points: a mapping column -> point field, or a list of columns named
            ``<field>_position``; None takes every column ending in ``_position``. Each value is
            ``[x, y, z]`` in the table's voxel resolution.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        list of int
            The new annotation ids, in row order.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        data = AnnotationClient.process_position_columns(df, position_columns)
        return (
            yield from AnnotationClient.post_annotation.plan(self, table_name, data, aligned_volume_name)
        )

    @api_method
    def update_annotation(
        self,
        table_name: str,
        data: dict[str, Any] | list[dict[str, Any]],
        aligned_volume_name: str | None = None,
    ) -> Plan[dict[str, int]]:
        """Replace rows: each annotation carries the ``id`` of the row it replaces.

        Calls ``PUT /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``.
        Never retried once the request may have reached the server.

        Parameters
        ----------
        table_name : str
            The annotation table.
        data : dict or list of dict
            Annotations with an ``id`` and the schema's fields.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        dict of str to int
            Old annotation id (a string: the server's JSON key, as caveclient 8.2.1 returns it) -> the id
            of the row replacing it.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        annotations = _annotations("data", data)
        for index, annotation in enumerate(annotations):
            if not isinstance(annotation.get("id"), int) or isinstance(annotation.get("id"), bool):
                raise InvalidInputError("data", f"annotation {index} needs the integer `id` it replaces")
        mapping = yield from self._replace(table, annotations, aligned_volume_name)
        return {str(old): new for old, new in mapping.items()}

    def _replace(
        self, table: str, annotations: list[dict[str, Any]], aligned_volume_name: str | None
    ) -> Plan[dict[int, int]]:
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        body = UpdateAnnotationsRequest(
            annotations=[_with_fields(AnnotationUpdate(id=a["id"]), a) for a in annotations]
        )
        response = yield from fetch(
            write(
                update_annotations.sync_detailed,
                update_annotations.asyncio_detailed,
                volume,
                table,
                client=api,
                body=body,
            )
        )
        mapping = parsed(response, AnnotationIdMap).additional_properties
        return {int(old): int(new) for old, new in mapping.items()}

    @api_method
    def update_annotation_df(
        self,
        table_name: str,
        df: pd.DataFrame,
        position_columns: Iterable[str] | Mapping[str, str] | None,
        aligned_volume_name: str | None = None,
    ) -> Plan[dict[str, int]]:
        """Replace rows from a DataFrame with an ``id`` column.

        Calls ``PUT /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``.

        Parameters
        ----------
        table_name : str
            The annotation table.
        df : pandas.DataFrame
            One row per annotation: ``id`` (the row replaced) and the schema's fields.
        position_columns : iterable of str, mapping of str to str, or None
            Which columns hold points: a mapping column -> point field, or a list of columns named
            ``<field>_position``; None takes every column ending in ``_position``. Each value is
            ``[x, y, z]`` in the table's voxel resolution.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        dict of str to int
            Old annotation id (a string, as caveclient gives it) -> new id.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The table or aligned volume does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        data = AnnotationClient.process_position_columns(df, position_columns)
        return (
            yield from AnnotationClient.update_annotation.plan(
                self, table_name, data, aligned_volume_name
            )
        )

    @api_method
    def delete_annotation(
        self,
        table_name: str,
        annotation_ids: int | Iterable[int],
        aligned_volume_name: str | None = None,
    ) -> Plan[list[int]]:
        """Mark rows as deleted.

        Calls
        ``DELETE /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``.
        Never retried once the request may have reached the server.

        Parameters
        ----------
        table_name : str
            The annotation table.
        annotation_ids : int or iterable of int
            One id or many.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).

        Returns
        -------
        list of int
            The ids marked deleted.

        Raises
        ------
        NotFoundError
            None of the ids exists.
        InvalidInputError
            An id is not an integer.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _table_name("table_name", table_name)
        ids = [int(i) for i in as_id_array("annotation_ids", annotation_ids, allow_empty=False).tolist()]
        volume = yield from self._volume(aligned_volume_name)
        api = yield from self._api()
        response = yield from fetch(
            write(
                delete_annotations.sync_detailed,
                delete_annotations.asyncio_detailed,
                volume,
                table,
                client=api,
                body=DeleteAnnotationsRequest(annotation_ids=ids),
            )
        )
        return parsed_list(response, int)

    # ------------------------------------------------------------ staging

    @api_method
    def stage_annotations(
        self,
        table_name: str | None = None,
        schema_name: str | None = None,
        update: bool = False,
        id_field: bool = False,
        table_resolution: Sequence[float] | None = None,
        annotation_resolution: Sequence[float] | None = None,
    ) -> Plan[StagedAnnotations]:
        """A StagedAnnotations for a table or a schema: rows checked as they are added, uploaded later.

        Calls ``GET /schema/api/v2/type/{annotation_type}`` (and, for a table,
        ``GET /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}`` to find its schema
        and resolution). Add rows with ``.add(**fields)`` or ``.add_dataframe(df)``; upload with
        ``upload_staged_annotations()``.

        Parameters
        ----------
        table_name : str, optional
            The table the rows are for (its schema and resolution are looked up).
        schema_name : str, optional
            The schema, when no table is given (or to skip the lookup).
        update : bool, default False
            Stage replacements of existing rows (each needs an ``id``).
        id_field : bool, default False
            Rows carry their own ``id`` (inserts with chosen ids).
        table_resolution : sequence of float, optional
            nm per unit of the table's positions (default: the table's own).
        annotation_resolution : sequence of float, optional
            nm per unit of the positions you add; they are converted to `table_resolution`.

        Returns
        -------
        StagedAnnotations
            An empty stage.

        Raises
        ------
        InvalidInputError
            Neither a table nor a schema, or a malformed resolution.
        NotFoundError
            The table or schema does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if table_name is not None:
            meta = yield from AnnotationClient.get_table_metadata.plan(self, table_name)
            schema_name = meta.get("schema_type")
            table_resolution = meta.get("voxel_resolution")
        elif schema_name is None:
            raise InvalidInputError("table_name", "give a table_name or a schema_name")
        schema_type = _table_name("schema_name", schema_name)
        response = yield from fetch(
            read(
                get_schema_definition.sync_detailed,
                get_schema_definition.asyncio_detailed,
                schema_type,
                client=self._session.api(SchemaAPI, self._deployment.global_server),
            )
        )
        return StagedAnnotations(
            parsed(response, JsonSchemaDocument).to_dict(),
            name=table_name or schema_type,
            update=update,
            id_field=id_field,
            table_resolution=table_resolution,
            annotation_resolution=annotation_resolution,
            table_name=table_name,
        )

    @api_method
    def upload_staged_annotations(
        self,
        staged_annos: StagedAnnotations,
        aligned_volume_name: str | None = None,
        batch_size: int = 10_000,
        progress: bool = True,
        retries: int = 3,
    ) -> Plan[list[int] | dict[str, int]]:
        """Upload the staged rows not uploaded yet, `batch_size` rows per request.

        Calls ``POST /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``
        (inserts) or
        ``PUT /annotation/api/v2/aligned_volume/{aligned_volume}/table/{table_name}/annotations``
        (updates), one batch after the other. A failed batch is not replayed.

        Parameters
        ----------
        staged_annos : StagedAnnotations
            The stage (from ``stage_annotations()``), with its ``table_name`` set.
        aligned_volume_name : str, optional
            The aligned volume holding the table (default: the aligned volume of the client's datastack,
            which costs one info request the first time).
        batch_size : int, default 10000
            Rows per request, 1 to 10,000.
        progress : bool, default True
            Show a progress bar over the batches (when the client's progress switch allows bars).
        retries : int, default 3
            Kept for caveclient compatibility and ignored: only failures the server cannot have acted on
            are retried, by the client's retry policy.

        Returns
        -------
        list of int or dict of str to int
            The new ids (inserts), or old id -> new id (updates; the old id is a string, the server's
            JSON key, as caveclient 8.2.1 returns it). Uploaded rows are marked in the stage.

        Raises
        ------
        AnnotationUploadError
            A batch failed: says which rows were written, whether the failed batch was, and which remain.
        InvalidInputError
            `staged_annos` is not a StagedAnnotations or has no table, or `batch_size` is out of range.
        """
        del retries
        if not isinstance(staged_annos, StagedAnnotations):
            raise InvalidInputError("staged_annos", "must be a StagedAnnotations (stage_annotations())")
        table = staged_annos.table_name
        if table is None:
            raise InvalidInputError("staged_annos", "has no table_name; set staged_annos.table_name")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int)
            or not 1 <= batch_size <= _defaults.ANNOTATION_ROWS_PER_POST
        ):
            raise InvalidInputError(
                "batch_size", f"must be an integer from 1 to {_defaults.ANNOTATION_ROWS_PER_POST}"
            )
        batches = _chunks(staged_annos._pending_rows(), batch_size)
        inserted: list[int] = []
        replaced: dict[str, int] = {}
        bar = _progress_bar(len(batches), progress, self._session.settings.progress)
        try:
            for number, rows in enumerate(batches):
                try:
                    if staged_annos.is_update:
                        mapping = yield from self._replace(
                            table, staged_annos._batch_payload(rows), aligned_volume_name
                        )
                        new_ids = [mapping[staged_annos._old_id(row)] for row in rows]
                        replaced.update({str(old): new for old, new in mapping.items()})
                    else:
                        new_ids = yield from self._insert(
                            table, staged_annos._batch_payload(rows), aligned_volume_name
                        )
                        if len(new_ids) != len(rows):
                            raise CAVEError(
                                f"the server answered {len(new_ids)} ids for {len(rows)} annotations"
                            )
                        inserted.extend(new_ids)
                except (CAVEError, KeyError) as error:
                    raise AnnotationUploadError(
                        written=dict(replaced) if staged_annos.is_update else list(inserted),
                        failed_rows=list(rows),
                        remaining_rows=[row for later in batches[number + 1 :] for row in later],
                        batch_outcome=_batch_outcome(error),
                        cause=error,
                    ) from error
                staged_annos._mark_uploaded(rows, new_ids)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return replaced if staged_annos.is_update else inserted


def _with_fields(model: Any, fields: Mapping[str, Any]) -> Any:
    """A generated annotation model carrying the schema-dependent fields of one annotation."""
    model.additional_properties = {k: v for k, v in fields.items() if k != "id"}
    if "id" in fields:
        model.id = fields["id"]
    return model


def _progress_bar(total: int, wanted: bool, switch: ProgressSwitch) -> Any:
    """A bar over the batches of an upload: asked for by the call and allowed by the client's switch."""
    if not wanted or total < 2 or not switch.enabled():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Annotation batches", unit="batch", leave=False)
