"""Every public method and property of the clients, the nine sub-clients, the table/view managers and
the staged annotations documents itself in numpydoc style: every parameter, what it returns, what it
raises, and (for methods that make requests) which server route it calls."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen._http.plan import api_method, api_property
from caveclient_gen._tables.stage import StagedAnnotations
from caveclient_gen._tables.table_manager import (
    TableManager,
    TableQuery,
    TableQueryBuilder,
    ViewManager,
    ViewQuery,
    ViewQueryBuilder,
)
from caveclient_gen.services.annotation import AnnotationClient
from caveclient_gen.services.auth import AuthClient
from caveclient_gen.services.chunkedgraph import ChunkedGraphClient
from caveclient_gen.services.info import InfoServiceClient
from caveclient_gen.services.l2cache import L2CacheClient
from caveclient_gen.services.materialize import MaterializationClient
from caveclient_gen.services.schema import SchemaClient
from caveclient_gen.services.skeleton import SkeletonClient
from caveclient_gen.services.state import JSONService

DOCUMENTED = (
    CAVEclient,
    AsyncCAVEclient,
    AuthClient,
    InfoServiceClient,
    JSONService,
    SchemaClient,
    ChunkedGraphClient,
    MaterializationClient,
    AnnotationClient,
    L2CacheClient,
    SkeletonClient,
    TableManager,
    ViewManager,
    TableQueryBuilder,
    ViewQueryBuilder,
    TableQuery,
    ViewQuery,
    StagedAnnotations,
)
OWN_MODULE = "caveclient_gen"
ROUTE = re.compile(r"``(GET|POST|PUT|PATCH|DELETE)\s+[^`]+``|[Mm]akes no request")
SECTION = re.compile(r"^(?P<indent> *)(?P<title>[A-Z][A-Za-z ]+)\n(?P=indent)-{3,}$", re.MULTILINE)


def sections(doc: str) -> dict[str, str]:
    """numpydoc sections of a docstring: title -> body."""
    doc = inspect.cleandoc(doc)
    found = list(SECTION.finditer(doc))
    result = {"": doc[: found[0].start()] if found else doc}
    for here, following in zip(found, [*found[1:], None], strict=False):
        end = following.start() if following else len(doc)
        result[here["title"].strip()] = doc[here.end() : end]
    return result


def documented_parameters(body: str) -> set[str]:
    names: set[str] = set()
    for line in body.splitlines():
        if line and not line.startswith(" "):
            head = line.split(" : ", 1)[0].strip()
            for name in head.split(","):
                names.add(name.strip().lstrip("*"))
    return names


def members(cls: type) -> Iterator[tuple[str, str, Callable[..., Any] | None, Any]]:
    """(name, kind, function, raw attribute) of every public member defined by our classes."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith(OWN_MODULE) or klass.__module__.endswith("_http.plan"):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(raw, api_method):
                yield name, "method", raw._plan, raw
            elif isinstance(raw, api_property):
                yield name, "property", raw._plan, raw
            elif isinstance(raw, property):
                yield name, "property", raw.fget, raw
            elif isinstance(raw, functools.cached_property):
                yield name, "property", raw.func, raw
            elif isinstance(raw, staticmethod | classmethod):
                yield name, "method", raw.__func__, raw
            elif inspect.isfunction(raw):
                yield name, "method", raw, raw


def gaps_of(cls: type, name: str, kind: str, function: Callable[..., Any] | None, raw: Any) -> list[str]:
    where = f"{cls.__name__}.{name}"
    doc = inspect.getdoc(function) if function is not None else None
    if not doc:
        return [f"{where}: no docstring"]
    parts = sections(doc)
    problems: list[str] = []
    if not parts[""].strip():
        problems.append(f"{where}: no summary line")
    if isinstance(raw, api_method | api_property) and not ROUTE.search(doc):
        problems.append(f"{where}: names no server route (``GET /...``) nor says it makes no request")
    if kind == "property":
        return problems
    signature = inspect.signature(function)  # type: ignore[arg-type]
    wanted = [p for p in signature.parameters if p not in ("self", "cls")]
    given = documented_parameters(parts.get("Parameters", ""))
    missing = [p for p in wanted if p not in given]
    if missing:
        problems.append(f"{where}: parameters not documented: {', '.join(missing)}")
    unknown = sorted(given - set(wanted))
    if unknown:
        problems.append(f"{where}: documents parameters it does not take: {', '.join(unknown)}")
    returns_nothing = signature.return_annotation in (None, "None", "Plan[None]")
    if not returns_nothing and not (parts.get("Returns") or parts.get("Yields") or "").strip():
        problems.append(f"{where}: no Returns section")
    if isinstance(raw, api_method) and "Raises" not in parts:
        problems.append(f"{where}: no Raises section")
    return problems


def all_gaps() -> list[str]:
    gaps: list[str] = []
    for cls in DOCUMENTED:
        for name, kind, function, raw in members(cls):
            gaps.extend(gaps_of(cls, name, kind, function, raw))
    return gaps


def test_the_collector_sees_methods_behind_the_api_method_descriptor() -> None:
    names = {name for name, *_ in members(MaterializationClient)}
    assert {"query_table", "live_live_query", "get_tables", "tables"} <= names
    query_table = {name: function for name, _, function, _ in members(MaterializationClient)}
    assert "filter_in_dict" in inspect.signature(query_table["query_table"]).parameters


def test_the_checker_finds_an_undocumented_parameter() -> None:
    def sample(self: Any, table: str, limit: int = 3) -> int:
        """Count rows.

        Calls ``GET /materialize/api/v3/x``.

        Parameters
        ----------
        table : str
            The table.

        Returns
        -------
        int
            Rows.

        Raises
        ------
        NotFoundError
            No such table.
        """
        return 0

    problems = gaps_of(MaterializationClient, "sample", "method", sample, api_method(sample))
    assert problems == ["MaterializationClient.sample: parameters not documented: limit"]


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda cls: cls.__name__)
def test_every_public_member_is_documented(cls: type) -> None:
    gaps = [
        gap
        for name, kind, function, raw in members(cls)
        for gap in gaps_of(cls, name, kind, function, raw)
    ]
    assert gaps == [], "\n" + "\n".join(gaps)


def test_the_client_documents_every_constructor_parameter() -> None:
    doc = inspect.getdoc(CAVEclient) or ""
    given = documented_parameters(sections(doc).get("Parameters", ""))
    wanted = [p for p in inspect.signature(CAVEclient.__init__).parameters if p != "self"]
    assert [p for p in wanted if p not in given] == []
    async_doc = inspect.getdoc(AsyncCAVEclient) or ""
    assert "CAVEclient" in async_doc
    extra = set(inspect.signature(AsyncCAVEclient.__init__).parameters) - {"self"} - set(wanted)
    assert extra == set()  # the async client takes a subset, documented on CAVEclient
