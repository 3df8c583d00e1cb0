"""Flights: one fill at a time per key across threads; failures and re-entry never block or leak."""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from caveclient_gen._http.single_flight import MISSING, Flights, Missing


def run(plan: Generator[Any, Any, Any]) -> Any:
    """Drive a plan whose requests need no answer."""
    try:
        while True:
            plan.send(None)
    except StopIteration as finished:
        return finished.value


class Store:
    def __init__(self) -> None:
        self.value: int | Missing = MISSING
        self.fills = 0
        self.lock = threading.Lock()

    def stored(self) -> int | Missing:
        return self.value


def test_threads_asking_at_once_wait_for_one_fill() -> None:
    flights, store = Flights(), Store()
    inside, release = threading.Event(), threading.Event()

    def fill() -> Generator[str, Any, int]:
        with store.lock:
            store.fills += 1
        yield "request"
        inside.set()
        release.wait()
        store.value = 7
        return 7

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(run, flights.once("key", store.stored, fill))
        inside.wait()
        others = [pool.submit(run, flights.once("key", store.stored, fill)) for _ in range(5)]
        release.set()
        assert [first.result(), *(f.result() for f in others)] == [7] * 6
    assert store.fills == 1


def test_a_failed_fill_wakes_the_waiting_threads_which_fill_themselves() -> None:
    flights, store = Flights(), Store()
    inside, release = threading.Event(), threading.Event()
    first_thread: list[int] = []

    def fill() -> Generator[str, Any, int]:
        with store.lock:
            store.fills += 1
            leading = not first_thread
            first_thread.append(threading.get_ident())
        yield "request"
        if leading:
            inside.set()
            release.wait()
            raise ConnectionError("the first thread's failure")
        store.value = 3
        return 3

    with ThreadPoolExecutor(max_workers=2) as pool:
        failing = pool.submit(run, flights.once("key", store.stored, fill))
        inside.wait()
        waiting = pool.submit(run, flights.once("key", store.stored, fill))
        release.set()
        with pytest.raises(ConnectionError):
            failing.result()
        assert waiting.result() == 3  # its own fill, not the other thread's error
    assert store.fills == 2


def test_a_fill_on_the_filling_thread_fills_instead_of_waiting_for_itself() -> None:
    flights, store = Flights(), Store()

    def inner() -> Generator[str, Any, int]:
        yield "request"
        store.value = 5
        return 5

    def outer() -> Generator[str, Any, int]:
        yield "request"
        # The same key again, on the same thread (as tasks of one event loop would): no deadlock.
        return (yield from flights.once("key", store.stored, inner))

    assert run(flights.once("key", store.stored, outer)) == 5


def test_an_abandoned_fill_releases_its_key() -> None:
    flights, store = Flights(), Store()

    def fill() -> Generator[str, Any, int]:
        yield "request"
        store.value = 1
        return 1

    plan = flights.once("key", store.stored, fill)
    next(plan)
    plan.close()  # a cancelled call
    assert run(flights.once("key", store.stored, fill)) == 1


def test_copies_start_without_fills_in_progress() -> None:
    flights, store = Flights(), Store()

    def fill() -> Generator[str, Any, int]:
        yield "request"
        return 1

    plan = flights.once("key", store.stored, fill)
    next(plan)
    assert list(flights._flights) == ["key"]
    for duplicate in (copy.deepcopy(flights), pickle.loads(pickle.dumps(flights))):
        assert duplicate._flights == {}
    plan.close()
