"""CAVEclient and AsyncCAVEclient answer alike: the differential cases (differential_cases.py) and a
few further calls run through both, on the same LocalCAVE, with the same client options (plain,
pinned to a version, a desired resolution), must give identical outcomes: values with their
types, numpy dtypes, DataFrames' columns, dtypes, index, rows in order and attrs, the warnings
raised (class, message, and whether they point at the caller), the exception's class and message.

The async calls run concurrently, a batch at a time, so the comparison also covers calls of one
AsyncCAVEclient overlapping each other; the outcomes are still compared case by case. Needs no
caveclient. A failure lists every differing case by its id, a line per difference.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import caveclient_gen
from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.testing import LocalCAVE

from .caveclient_driver import bound_call, encoded, error_record
from .differential_cases import World, build_cases
from .differential_support import EXACT, pick_world, same_json, settled_now, short

BATCH = 8
"""Async calls in flight at once."""

PACKAGE = Path(caveclient_gen.__file__).parent

CASE_WARNINGS: contextvars.ContextVar[list[dict[str, str]] | None] = contextvars.ContextVar(
    "case_warnings", default=None
)
"""The warnings of the call running here: asyncio tasks and asyncio.to_thread carry it, so each of
several concurrent async calls has its own."""


def warning_record(message: Warning | str, category: type[Warning], filename: str) -> dict[str, str]:
    """A warning as its class, text, and where it points: a module of ours, or the caller's code."""
    path = Path(filename).resolve()
    where = str(path.relative_to(PACKAGE.parent)) if path.is_relative_to(PACKAGE) else "<caller>"
    return {
        "class": f"{category.__module__}.{category.__qualname__}",
        "message": str(message),
        "points_at": where,
    }


@contextmanager
def warnings_by_call() -> Iterator[list[dict[str, str]]]:
    """Every warning recorded, each time it is raised, to the list of the call it was raised in;
    the list yielded gets those raised outside any call (e.g. on a thread that was not given it)."""
    stray: list[dict[str, str]] = []

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        target = CASE_WARNINGS.get()
        (stray if target is None else target).append(warning_record(message, category, filename))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield stray


@dataclass(frozen=True)
class Call:
    """One call made on both clients: `run` makes it on a client (awaitable on the async one) and
    `comparable` turns its result into what is compared (before encoding)."""

    id: str
    run: Callable[[Any], Any]
    client: str = "plain"
    comparable: Callable[[Any], Any] = lambda value: value


def case_call(case: dict[str, Any]) -> Call:
    def run(client: Any) -> Any:
        function, args, kwargs = bound_call(client, case)  # fresh arguments for each client
        return function(*args, **kwargs)

    return Call(case["id"], run, case.get("client", "plain"))


def outcome(value: Any, call: Call) -> dict[str, Any]:
    try:
        return {"value": encoded(call.comparable(value))}
    except Exception as error:  # a result that cannot be read is an outcome too
        return {"error": error_record(error), "while": "reading the result"}


def sync_outcome(client: CAVEclient, call: Call) -> dict[str, Any]:
    caught: list[dict[str, str]] = []
    token = CASE_WARNINGS.set(caught)
    try:
        result = outcome(call.run(client), call)
    except Exception as error:  # the outcome compared
        result = {"error": error_record(error)}
    finally:
        CASE_WARNINGS.reset(token)
    return {**result, "warnings": caught}


async def async_outcome(client: AsyncCAVEclient, call: Call) -> dict[str, Any]:
    caught: list[dict[str, str]] = []
    CASE_WARNINGS.set(caught)  # this task's own context
    try:
        result = outcome(await call.run(client), call)
    except Exception as error:  # the outcome compared
        result = {"error": error_record(error)}
    return {**result, "warnings": caught}


def options(cave: LocalCAVE, pinned_version: int) -> dict[str, dict[str, Any]]:
    where = {"server_address": cave.url, "auth_token": cave.token}
    return {
        "plain": where,
        "pinned": {**where, "version": pinned_version},
        "nm": {**where, "desired_resolution": [1, 1, 1]},
    }


def run_sync(cave: LocalCAVE, kinds: dict[str, dict[str, Any]], calls: list[Call]) -> dict[str, Any]:
    clients = {kind: CAVEclient(cave.datastack, **where) for kind, where in kinds.items()}
    try:
        return {call.id: sync_outcome(clients[call.client], call) for call in calls}
    finally:
        for client in clients.values():
            client.close()


async def run_async(
    cave: LocalCAVE, kinds: dict[str, dict[str, Any]], calls: list[Call]
) -> dict[str, Any]:
    clients = {kind: AsyncCAVEclient(cave.datastack, **where) for kind, where in kinds.items()}
    results: dict[str, Any] = {}
    try:
        for start in range(0, len(calls), BATCH):
            batch = calls[start : start + BATCH]
            outcomes = await asyncio.gather(
                *(async_outcome(clients[call.client], call) for call in batch)
            )
            results.update(zip((call.id for call in batch), outcomes, strict=True))
    finally:
        for client in clients.values():
            await client.aclose()
    return results


def mismatches(
    calls: list[Call], sync: dict[str, Any], asynchronous: dict[str, Any], start: datetime
) -> list[str]:
    end = datetime.now(UTC)
    found_in: list[str] = []
    for call in calls:
        if json.dumps(sync[call.id]) == json.dumps(asynchronous[call.id]):
            continue  # identical to the last character (large frames: the quick check)
        found: list[str] = []
        same_json(
            settled_now(sync[call.id], start, end),
            settled_now(asynchronous[call.id], start, end),
            "outcome",
            found,
            EXACT,
        )
        if found:
            found_in.append(call.id + "\n" + "\n".join(f"    {line}" for line in found[:20]))
    return found_in


def compare_both_ways(
    cave: LocalCAVE, kinds: dict[str, dict[str, Any]], calls: list[Call]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every call on the sync clients, then on the async ones; asserts they agree."""
    assert len({call.id for call in calls}) == len(calls), "call ids must be unique"
    start = datetime.now(UTC)
    with warnings_by_call() as stray:
        sync = run_sync(cave, kinds, calls)
        asynchronous = asyncio.run(run_async(cave, kinds, calls))
    assert not stray, f"warnings raised outside any call: {short(stray)}"
    found = mismatches(calls, sync, asynchronous, start)
    assert not found, f"{len(found)} of {len(calls)} calls differ:\n" + "\n".join(found)
    return sync, asynchronous


# -- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(cave: LocalCAVE) -> World:
    with CAVEclient(cave.datastack, server_address=cave.url, auth_token=cave.token) as client:
        return pick_world(cave, client)


def test_drawn_cases_agree(cave: LocalCAVE, world: World) -> None:
    calls = [case_call(case) for case in build_cases(world)]
    sync, _ = compare_both_ways(cave, options(cave, world.versions[0]), calls)
    # The comparison sees something: errors, warnings and frames each occur among the cases.
    assert sum("error" in outcome for outcome in sync.values()) >= 10
    assert sum(bool(outcome["warnings"]) for outcome in sync.values()) >= 3
    assert sum("$frame" in str(outcome.get("value"))[:12] for outcome in sync.values()) >= 100
