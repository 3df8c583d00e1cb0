"""`client.state`: Neuroglancer states and segment properties (the JSON state service)."""

from __future__ import annotations

import json
import numbers
import re
from pathlib import Path
from typing import Any

from caveclient_gen_api.state.api.properties import (
    get_properties,
    upload_properties,
    upload_properties_with_id,
)
from caveclient_gen_api.state.api.states import get_state, upload_state, upload_state_with_id
from caveclient_gen_api.state.client import Client as StateAPI
from caveclient_gen_api.state.models.neuroglancer_state import NeuroglancerState
from caveclient_gen_api.state.models.segment_properties import SegmentProperties

from .. import _defaults
from .._http.encoded_body import send_encoded, send_encoded_async
from .._http.parse import optional, parsed
from .._http.plan import M, Plan, RawResponse, api_method, fetch, read, write
from .._http.redact import redact_url
from .._http.session import origin
from ..errors import InvalidInputError, NotFoundError, UnexpectedResponseError
from ._base import ServiceClient

STATE_PATH = "/nglstate/api/v1"
STATE_URL_ID = re.compile(r"/(\d+)/?$")
TARGET_SITES = ("seunglab", "cave-explorer", "mainline", "spelunker")
MAX_PROPERTY_SIZE = 2_500_000


class JSONService(ServiceClient[M]):
    """The JSON state service: stores Neuroglancer states and segment properties by id."""

    _SERVER_KEY = "json_server_address"
    _API_VERSION = 1
    _VERSION_ROUTE = ("state", "version.get_version")

    _ngl_url: str | None = None

    def _api(self) -> StateAPI:
        return self._session.api(StateAPI, self._deployment.global_server)

    @property
    def state_service_endpoint(self) -> str:
        """The URL template states are uploaded to (on the global server). Makes no request."""
        return f"{self._deployment.global_server}{STATE_PATH}/post"

    @property
    def ngl_url(self) -> str | None:
        """The Neuroglancer deployment that links point at; None means the datastack's ``viewer_site``.

        Settable (a URL, or None to go back to the datastack's). Makes no request.
        """
        return self._ngl_url

    @ngl_url.setter
    def ngl_url(self, value: str | None) -> None:
        self._ngl_url = value

    def _viewer(self, ngl_url: str | None) -> Plan[str]:
        if ngl_url:
            return ngl_url
        if self._ngl_url:
            return self._ngl_url
        if self._deployment.datastack_name:
            record = yield from self._deployment.datastack_info()
            site = record.get("viewer_site")
            if isinstance(site, str) and site:
                return site
        return _defaults.FALLBACK_NEUROGLANCER_URL

    # ------------------------------------------------------------ states

    @api_method
    def get_state_json(self, state_id: int | str) -> Plan[dict[str, Any]]:
        """A Neuroglancer state, by id or by URL.

        Calls ``GET /nglstate/api/v1/{json_id}`` on this client's state service (with the token), or
        ``GET {url}`` without the token for a state elsewhere.

        Parameters
        ----------
        state_id : int or str
            The id of a state on this client's state service, or the http(s) URL of a state: one on this
            client's state service is read with the token, any other (a state of another deployment, a
            JSON file on a web server or a public bucket) without it.

        Returns
        -------
        dict
            The state as stored (a JSON object).

        Raises
        ------
        InvalidInputError
            `state_id` is neither an id nor an http(s) URL (caught as ValueError).
        NotFoundError
            No state has that id, or nothing is at that URL.
        UnexpectedResponseError
            The document at the URL is not a JSON object.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if isinstance(state_id, str) and "://" in state_id and not self._is_own_state(state_id):
            return (yield from self._foreign_state(state_id))
        identifier = self._state_id(state_id)
        response = yield from fetch(
            read(get_state.sync_detailed, get_state.asyncio_detailed, identifier, client=self._api())
        )
        return parsed(response, NeuroglancerState).to_dict()

    @api_method
    def upload_state_json(
        self,
        json_state: dict[str, Any],
        state_id: int | None = None,
        timestamp: float | None = None,
    ) -> Plan[int]:
        """Store a Neuroglancer state and return its new id.

        Calls ``POST /nglstate/api/v1/post`` (or ``POST /nglstate/api/v1/post/{json_id}`` with
        `state_id`). Uploads are not retried after the request may have reached the server.

        Parameters
        ----------
        json_state : dict
            The state (a JSON object). Encoded as caveclient encodes states (``json.dumps`` with its
            defaults): NumPy integers, alone or in arrays, become strings, as Neuroglancer writes ids;
            NaN, Infinity and lone surrogates are written as Python's ``json`` writes them. A deployment
            without a bucket for states refuses documents above about 1 MiB.
        state_id : int, optional
            Store under this id instead of a new one (superadmins only).
        timestamp : float, optional
            With `state_id`: the state's date, in unix seconds.

        Returns
        -------
        int
            The id of the stored state (use with ``get_state_json()`` or ``build_neuroglancer_url()``).

        Raises
        ------
        InvalidInputError
            `json_state` is not a JSON object, or `timestamp` is given without `state_id`.
        PermissionDeniedError
            `state_id` was given by a user who is not a superadmin.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        content = encode_state("json_state", json_state)
        placeholder = NeuroglancerState()
        if state_id is None:
            if timestamp is not None:
                raise InvalidInputError("timestamp", "can only be given together with state_id")
            request = write(
                send_encoded,
                send_encoded_async,
                upload_state,
                content,
                placeholder,
                client=self._api(),
            )
        else:
            request = write(
                send_encoded,
                send_encoded_async,
                upload_state_with_id,
                content,
                placeholder,
                _positive_int("state_id", state_id),
                client=self._api(),
                timestamp=optional(timestamp),
            )
        response = yield from fetch(request)
        return _id_from_url(parsed(response, str))

    # ------------------------------------------------------------ segment properties

    @api_method
    def get_property_json(self, state_id: int) -> Plan[dict[str, Any]]:
        """A segment-properties document, by id.

        Calls ``GET /nglstate/api/v1/property/{json_id}/info``.

        Parameters
        ----------
        state_id : int
            The document's id.

        Returns
        -------
        dict
            The segment-properties document (``@type``, ``inline`` with ``ids`` and ``properties``).

        Raises
        ------
        NotFoundError
            No document has this id.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        response = yield from fetch(
            read(
                get_properties.sync_detailed,
                get_properties.asyncio_detailed,
                _positive_int("state_id", state_id),
                client=self._api(),
            )
        )
        return parsed(response, SegmentProperties).to_dict()

    @api_method
    def upload_property_json(
        self,
        property_json: dict[str, Any],
        state_id: int | None = None,
        max_size: int | None = MAX_PROPERTY_SIZE,
    ) -> Plan[int]:
        """Store a segment-properties document and return its id.

        Calls ``POST /nglstate/api/v1/property/post`` (or ``.../property/post/{json_id}`` with
        `state_id`).

        Parameters
        ----------
        property_json : dict
            The segment-properties document.
        state_id : int, optional
            Store under this id instead of a new one (superadmins only).
        max_size : int or None, default 2500000
            Refuse documents larger than this many bytes of JSON (counted as caveclient counts them)
            before sending; None: no limit. The service never stores properties in a bucket, so about 1
            MiB is its limit whatever `max_size` allows.

        Returns
        -------
        int
            The id of the stored document.

        Raises
        ------
        InvalidInputError
            The document is larger than `max_size` or not a JSON object.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        content = encode_state("property_json", property_json)
        size = len(content)
        if max_size is not None and size > max_size:
            raise InvalidInputError(
                "property_json",
                f"is {size} bytes, above max_size={max_size}; pass a larger max_size",
            )
        placeholder = SegmentProperties.from_dict({})
        if state_id is None:
            request = write(
                send_encoded,
                send_encoded_async,
                upload_properties,
                content,
                placeholder,
                client=self._api(),
            )
        else:
            request = write(
                send_encoded,
                send_encoded_async,
                upload_properties_with_id,
                content,
                placeholder,
                _positive_int("state_id", state_id),
                client=self._api(),
            )
        response = yield from fetch(request)
        return _id_from_url(parsed(response, str))

    # ------------------------------------------------------------ local files and links

    def save_state_json_local(
        self, json_state: dict[str, Any], filename: str | Path, overwrite: bool = False
    ) -> None:
        """Write a state to a local JSON file.

        Makes no request.

        Parameters
        ----------
        json_state : dict
            The state, encoded as ``upload_state_json()`` sends it.
        filename : str or pathlib.Path
            Where to write it.
        overwrite : bool, default False
            Replace an existing file.

        Returns
        -------
        None

        Raises
        ------
        InvalidInputError
            The file exists and `overwrite` is False.
        """
        path = Path(filename)
        content = encode_state("json_state", json_state)
        if path.exists() and not overwrite:
            raise InvalidInputError("filename", f"{path} exists; pass overwrite=True to replace it")
        path.write_bytes(content)

    @api_method
    def get_neuroglancer_info(self, ngl_url: str | None = None) -> Plan[dict[str, Any]]:
        """The ``version.json`` of a Neuroglancer deployment, which says which flavour it is.

        Calls ``GET {ngl_url}/version.json`` without the token (a viewer host is not a CAVE server).

        Parameters
        ----------
        ngl_url : str, optional
            The deployment's URL (default: ``ngl_url``, else the datastack's ``viewer_site``).

        Returns
        -------
        dict
            The parsed ``version.json``; ``{}`` when the deployment has none.

        Raises
        ------
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        viewer = yield from self._viewer(ngl_url)
        info = yield from self._version_document(viewer)
        return info if isinstance(info, dict) else {}

    def _version_document(self, viewer: str) -> Plan[Any]:
        """The viewer's parsed ``version.json`` (any JSON value); ``{}`` when it has none or not JSON."""
        url = viewer.rstrip("/") + "/version.json"
        http = self._session.external()
        try:
            response: RawResponse[None] = yield from fetch(read(http.get, http.get_async, url))
        except NotFoundError:
            return {}
        try:
            return json.loads(response.content)
        except ValueError:
            return {}

    @api_method
    def build_neuroglancer_url(
        self,
        state_id: int | str,
        ngl_url: str | None = None,
        target_site: str | None = None,
        static_url: bool = False,
        format_properties: bool = False,
    ) -> Plan[str]:
        """A Neuroglancer link that opens a stored state.

        Calls ``GET {ngl_url}/version.json`` when `target_site` is None, to learn the deployment's
        flavour.

        Parameters
        ----------
        state_id : int or str
            The state's id (or, with `static_url`, the URL of a JSON file).
        ngl_url : str, optional
            The Neuroglancer deployment (default: ``ngl_url``, else the datastack's ``viewer_site``).
        target_site : str, optional
            ``"seunglab"`` (links with ``?json_url=``), or ``"cave-explorer"``, ``"mainline"`` or
            ``"spelunker"`` (links with ``#!middleauth+``). None asks the deployment.
        static_url : bool, default False
            Treat `state_id` as the URL of a JSON file rather than a state id (linked without
            ``middleauth+``).
        format_properties : bool, default False
            Return the ``precomputed://`` source of a segment-properties document instead of a link.

        Returns
        -------
        str
            The link (or source path).

        Raises
        ------
        InvalidInputError
            `target_site` is unknown, or `state_id` does not end in an id.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if target_site is not None and target_site not in TARGET_SITES:
            raise InvalidInputError("target_site", f"must be one of {', '.join(TARGET_SITES)}")
        server = self._deployment.global_server
        if format_properties:
            identifier = _positive_int("state_id", state_id)
            return f"precomputed://middleauth+{server}{STATE_PATH}/property/{identifier}"
        viewer = yield from self._viewer(ngl_url)
        if target_site is None:
            document = yield from self._version_document(viewer)
            # As caveclient: any non-empty version document (not only an object) means spelunker.
            answered = isinstance(document, dict | list | str) and len(document) > 0
            target_site = "spelunker" if answered else "seunglab"
        separator = "" if viewer.endswith("/") else "/"
        state_url = str(state_id) if static_url else f"{server}{STATE_PATH}/{self._state_id(state_id)}"
        if target_site == "seunglab":
            return f"{viewer}{separator}?json_url={state_url}"
        # A static URL is a plain JSON file, fetched without CAVE's authentication (as caveclient).
        auth = "" if static_url else "middleauth+"
        return f"{viewer}{separator}#!{auth}{state_url}"

    def _is_own_state(self, url: str) -> bool:
        """Whether `url` names a state of this client's state service (which gets the token)."""
        return origin(url) == origin(self._deployment.global_server) and bool(STATE_URL_ID.search(url))

    def _foreign_state(self, url: str) -> Plan[dict[str, Any]]:
        """A state document at a URL outside this client's state service, fetched without the token."""
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInputError("state_id", f"{url!r} is not an http(s) URL")
        http = self._session.external()
        response: RawResponse[None] = yield from fetch(read(http.get, http.get_async, url))
        try:
            document = json.loads(response.content)
        except ValueError as error:
            raise UnexpectedResponseError(f"the document at {redact_url(url)} is not JSON") from error
        if not isinstance(document, dict):
            raise UnexpectedResponseError(
                f"the document at {redact_url(url)} is not a JSON object (a Neuroglancer state)"
            )
        return document

    def _state_id(self, state_id: int | str) -> int:
        """A state id, from an int or from the URL of a state on this client's state service."""
        if isinstance(state_id, str) and "://" in state_id:
            if origin(state_id) != origin(self._deployment.global_server):
                raise InvalidInputError(
                    "state_id",
                    f"{state_id!r} is not on this client's state service "
                    f"({self._deployment.global_server}); the token is only sent to CAVE servers",
                )
            match = STATE_URL_ID.search(state_id)
            if not match:
                raise InvalidInputError("state_id", f"{state_id!r} does not end in a state id")
            return int(match.group(1))
        return _positive_int("state_id", state_id)


def _positive_int(parameter: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInputError(parameter, "must be an integer id, not a bool")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) or (type(value).__module__ == "numpy" and hasattr(value, "__index__")):
        number = int(value)
        if number >= 0:
            return number
    raise InvalidInputError(parameter, f"{value!r} is not a valid id")


def encode_state(parameter: str, value: object) -> bytes:
    """A state or properties document as caveclient 8.2.1 sends it: `json.dumps` with its defaults
    (NaN and Infinity written as such, non-ASCII escaped, so lone surrogates pass), numpy integers
    as strings (alone or inside arrays), numpy floats as floats, sets and arrays as lists."""
    if not isinstance(value, dict):
        raise InvalidInputError(parameter, f"must be a dict, not {type(value).__name__}")
    try:
        return json.dumps(value, default=_neuroglancer_value).encode("ascii")
    except (TypeError, ValueError) as error:
        raise InvalidInputError(parameter, f"cannot be written as JSON: {error}") from None


def _neuroglancer_value(value: Any) -> Any:
    """What `json.dumps` cannot write itself, as Neuroglancer states hold it."""
    if isinstance(value, numbers.Integral):  # numpy integers: Python ints are written as such
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    if type(value).__module__ == "numpy":
        import numpy as np

        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.floating):
            return float(value)
        if isinstance(value, np.ndarray):
            return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be stored in a state")


def _id_from_url(url: str) -> int:
    match = STATE_URL_ID.search(url.strip())
    if not match:
        raise UnexpectedResponseError(f"the state service answered {url!r}, which ends in no id")
    return int(match.group(1))
