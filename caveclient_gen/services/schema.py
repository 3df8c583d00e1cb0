"""`client.schema`: the annotation schemas (the schema service)."""

from __future__ import annotations

from typing import Any

from caveclient_gen_api.schema.api.schemas import (
    get_schema_definition,
    get_schema_definition_all,
    get_schema_definition_multi,
    get_schema_types,
)
from caveclient_gen_api.schema.client import Client as SchemaAPI
from caveclient_gen_api.schema.models.json_schema_document import JsonSchemaDocument
from caveclient_gen_api.schema.models.schema_definition_map import SchemaDefinitionMap

from .._http.parse import parsed, parsed_list
from .._http.plan import M, Plan, api_method, fetch, read
from ..errors import InvalidInputError
from ._base import ServiceClient

SchemaDocument = dict[str, Any]
"""A JSON-Schema (draft-07) document describing one annotation schema."""


class SchemaClient(ServiceClient[M]):
    """The schema service: the annotation schemas tables are created from."""

    _SERVER_KEY = "emas_server_address"
    _API_VERSION = 2

    def _api(self) -> SchemaAPI:
        return self._session.api(SchemaAPI, self._deployment.global_server)

    @api_method
    def get_schemas(self) -> Plan[list[str]]:
        """Names of every annotation schema (``synapse``, ``cell_type_local``, ``bound_tag``, ...).

        Calls ``GET /schema/api/v2/type``.

        Returns
        -------
        list of str
            Schema names.

        Raises
        ------
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(
                get_schema_types.sync_detailed,
                get_schema_types.asyncio_detailed,
                client=self._api(),
            )
        )
        return parsed_list(response, str)

    @api_method
    def schema_definition(self, schema_type: str) -> Plan[SchemaDocument]:
        """The JSON-Schema document of one annotation schema.

        Calls ``GET /schema/api/v2/type/{annotation_type}``.

        Parameters
        ----------
        schema_type : str
            The schema's name (see ``get_schemas()``).

        Returns
        -------
        SchemaDocument
            A dict: ``$ref`` names the main definition, ``definitions`` maps each definition name to its
            ``properties`` (column name -> JSON-Schema field, with ``type``/``format`` or ``$ref``).

        Raises
        ------
        NotFoundError
            No schema has this name.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        _check_name("schema_type", schema_type)
        response = yield from fetch(
            read(
                get_schema_definition.sync_detailed,
                get_schema_definition.asyncio_detailed,
                schema_type,
                client=self._api(),
            )
        )
        return parsed(response, JsonSchemaDocument).to_dict()

    @api_method
    def schema_definition_multi(self, schema_types: list[str]) -> Plan[dict[str, SchemaDocument]]:
        """The JSON-Schema documents of several annotation schemas.

        Calls ``POST /schema/api/v2/types``.

        Parameters
        ----------
        schema_types : list of str
            Schema names.

        Returns
        -------
        dict of str to SchemaDocument
            One document per name (see ``schema_definition()``).

        Raises
        ------
        InvalidInputError
            `schema_types` is not a list of names.
        NotFoundError
            A name is not a schema.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if isinstance(schema_types, str) or not schema_types:
            raise InvalidInputError("schema_types", "must be a non-empty list of schema names")
        for name in schema_types:
            _check_name("schema_types", name)
        response = yield from fetch(
            read(
                get_schema_definition_multi.sync_detailed,
                get_schema_definition_multi.asyncio_detailed,
                client=self._api(),
                schema_names=",".join(schema_types),
            )
        )
        return parsed(response, SchemaDefinitionMap).to_dict()

    @api_method
    def schema_definition_all(self) -> Plan[dict[str, SchemaDocument]]:
        """The JSON-Schema documents of every annotation schema.

        Calls ``GET /schema/api/v2/types_all``.

        Returns
        -------
        dict of str to SchemaDocument
            One document per schema name (see ``schema_definition()``).

        Raises
        ------
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(
                get_schema_definition_all.sync_detailed,
                get_schema_definition_all.asyncio_detailed,
                client=self._api(),
            )
        )
        return parsed(response, SchemaDefinitionMap).to_dict()


def _check_name(parameter: str, name: object) -> None:
    if not isinstance(name, str) or not name or "," in name or "/" in name:
        raise InvalidInputError(parameter, f"{name!r} is not a schema name")
