"""`caveclient-gen demo`: a guided tour of the client, printing each call and what it returned.

Every line shown is the line executed: the tour evaluates the very text it prints, in one namespace
shared by all steps, so a reader can copy any line into their own session.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from . import CAVEclient, CAVEError

MAX_LINES = 14
WIDTH = 100


@dataclass
class Tour:
    """Runs and prints the steps of the tour."""

    out: TextIO
    namespace: dict[str, Any] = field(default_factory=dict)
    failures: int = 0
    section_number: int = 0

    def section(self, title: str, explanation: str = "") -> None:
        self.section_number += 1
        print(f"\n{self.section_number}. {title}", file=self.out)
        if explanation:
            for line in textwrap.wrap(explanation, WIDTH - 3):
                print(f"   {line}", file=self.out)

    def note(self, text: str) -> None:
        for line in textwrap.wrap(text, WIDTH - 3):
            print(f"   {line}", file=self.out)

    def run(self, code: str, *, show: bool = True, expect: type[CAVEError] | None = None) -> Any:
        """Execute one line of the tour; print it and (for expressions) its value.

        With `expect`, the line must raise that error, which is printed as the result.
        """
        for number, line in enumerate(
            textwrap.wrap(code, WIDTH - 7, break_long_words=False, break_on_hyphens=False)
        ):
            print(f"   {'>>>' if number == 0 else '...'} {line}", file=self.out)
        try:
            value = self._execute(code)
        except CAVEError as error:
            if expect is None or not isinstance(error, expect):
                self.failures += 1
            for line in textwrap.wrap(f"{type(error).__name__}: {error}", WIDTH - 3):
                print(f"   {line}", file=self.out)
            return None
        if expect is not None:
            self.failures += 1
            print(f"   !!! expected {expect.__name__}, but the line succeeded", file=self.out)
        if show and value is not None:
            for line in render(value):
                print(f"   {line}", file=self.out)
        return value

    def _execute(self, code: str) -> Any:
        target, _, expression = code.partition(" = ")
        if expression and target.isidentifier():
            value = eval(expression, self.namespace)  # noqa: S307 - the tour's own literal code
            self.namespace[target] = value
            return value
        return eval(code, self.namespace)  # noqa: S307 - the tour's own literal code


def render(value: Any) -> list[str]:
    """A few lines showing a value: JSON for records, the frame's head for tables."""
    if hasattr(value, "to_string") and hasattr(value, "head"):
        lines = value.head(6).to_string(max_colwidth=28).splitlines()
        return [*lines, f"[{len(value)} rows x {value.shape[1]} columns]"]
    if isinstance(value, dict | list) and value and not _is_flat_short_list(value):
        text = json.dumps(value, indent=2, default=str)
    else:
        text = repr(value)
    lines = []
    for raw in text.splitlines():
        lines.extend(
            textwrap.wrap(
                raw, WIDTH - 3, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
            )
            or [""]
        )
    if len(lines) > MAX_LINES:
        hidden = len(lines) - MAX_LINES
        lines = [*lines[:MAX_LINES], f"... ({hidden} more lines)"]
    return lines


def _is_flat_short_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= 12
        and all(isinstance(item, str | int | float) for item in value)
    )


Section = Callable[[Tour], None]


def token_section(local: bool) -> Section:
    def section(tour: Tour) -> None:
        tour.section(
            "A client and its token",
            "Construction sends no request and reads no file. The token is looked up on first use: "
            "the auth_token argument, a token file, the CAVE_TOKEN variable, then the files shared "
            "with caveclient and CloudVolume in ~/.cloudvolume/secrets.",
        )
        tour.run("client = CAVEclient(datastack, server_address=server)")
        if local:
            tour.note(
                "LocalCAVE printed a token for us; save it where caveclient and CloudVolume "
                "look for tokens (here under a temporary home directory), mode 0600:"
            )
            tour.run("client.auth.save_token(local_token)")
        tour.run("client.auth.token_source")

    return section


def info_section(tour: Tour) -> None:
    tour.section("Datastacks", "The info service knows every datastack the token may view.")
    tour.run("client.info.get_datastacks()")
    tour.run("info = client.info.get_datastack_info()")
    tour.note("The record is fetched once and kept; the fields below need no further request.")
    tour.run("client.info.local_server()")
    tour.run("client.info.image_source()")
    tour.run("client.info.image_source(format_for='cloudvolume')")
    tour.run("client.info.segmentation_source(format_for='neuroglancer')")
    tour.run("client.info.viewer_resolution()")


def state_section(tour: Tour) -> None:
    tour.section(
        "Neuroglancer states",
        "The JSON state service stores viewer states by id. Links point at the datastack's viewer; "
        "the viewer host never receives the token.",
    )
    tour.run(
        "state = {'layers': [{'type': 'segmentation', 'name': 'seg', "
        "'source': client.info.segmentation_source(format_for='neuroglancer'), "
        "'segments': ['864691135000000001']}], 'position': [240000, 180000, 21000]}",
        show=False,
    )
    tour.run("state_id = client.state.upload_state_json(state)")
    tour.run("client.state.get_state_json(state_id) == state")
    tour.run("client.state.build_neuroglancer_url(state_id, target_site='spelunker')")


def schema_section(tour: Tour) -> None:
    tour.section("Annotation schemas", "Every annotation table is created from one of these.")
    tour.run("schemas = client.schema.get_schemas()", show=False)
    tour.run("len(schemas), schemas[:6]")
    tour.run("client.schema.schema_definition('synapse')['definitions']['SynapseSchema']['required']")


def errors_section(tour: Tour) -> None:
    tour.section(
        "Errors name what was wrong",
        "Server errors are typed (NotFoundError, PermissionDeniedError, ...) and carry the server's "
        "own message; bad input is refused before any request is sent.",
    )
    tour.run("client.info.get_datastack_info('no_such_datastack')", expect=CAVEError)
    tour.run("client.state.get_state_json('not-a-state-id')", expect=CAVEError)


SECTIONS: list[Callable[[bool], list[Section]]] = [
    lambda local: [token_section(local), info_section, state_section, schema_section, errors_section],
]
"""Groups of sections, in tour order; each service's tour adds its group."""


@contextlib.contextmanager
def temporary_home() -> Iterator[str]:
    """Point HOME at a fresh directory, so the tour never touches the user's token files."""
    previous = os.environ.get("HOME")
    with tempfile.TemporaryDirectory(prefix="caveclient-gen-demo-") as home:
        os.environ["HOME"] = home
        try:
            yield home
        finally:
            if previous is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = previous


def run_demo(
    *,
    server: str | None = None,
    datastack: str | None = None,
    seed: int = 0,
    out: TextIO | None = None,
) -> int:
    """Run the tour; returns the process exit status (non-zero if any step failed)."""
    import sys

    stream = out or sys.stdout
    tour = Tour(stream)
    tour.namespace["CAVEclient"] = CAVEclient
    local = server is None
    print("caveclient_gen — a tour of the client", file=stream)
    with contextlib.ExitStack() as stack:
        if local:
            from .testing import LocalCAVE

            stack.enter_context(temporary_home())
            cave = stack.enter_context(LocalCAVE(seed=seed))
            print(f"LocalCAVE is serving every CAVE service at {cave.url} (seed {seed}).", file=stream)
            tour.namespace.update(server=cave.url, datastack=cave.datastack, local_token=cave.token)
        else:
            print(f"Touring {datastack} on {server}.", file=stream)
            tour.namespace.update(server=server, datastack=datastack)
        for group in SECTIONS:
            for section in group(local):
                section(tour)
        client = tour.namespace.get("client")
        if isinstance(client, CAVEclient):
            client.close()
    verdict = "every step succeeded" if not tour.failures else f"{tour.failures} step(s) failed"
    print(f"\nEnd of the tour: {verdict}.", file=stream)
    return 0 if not tour.failures else 1
