"""Errors that say what to do: an unknown datastack lists the visible ones; a refused token names
the command that creates one."""

from __future__ import annotations

import pytest

from caveclient_gen import errors
from caveclient_gen.testing import LocalCAVE

from .conftest import client_of


def test_an_unknown_datastack_lists_the_datastacks_the_token_can_see(cave: LocalCAVE) -> None:
    with client_of(cave, cave.token, datastack="minnie_typo") as client:
        visible = client.info.get_datastacks()
        with pytest.raises((errors.NotFoundError, errors.BadRequestError)) as raised:
            client.info.get_datastack_info()
    message = str(raised.value)
    assert "'minnie_typo' is unknown" in message
    assert visible  # the superadmin sees the default and the restricted datastack
    for name in visible:
        assert name in message
    assert raised.value.status_code in (400, 404)  # middle_auth answers 400 invalid_table_id


def test_the_listed_datastacks_are_only_those_this_token_may_view(cave: LocalCAVE) -> None:
    viewer = cave.token_for("viewer")
    with client_of(cave, viewer, datastack="minnie_typo") as client:
        visible = client.info.get_datastacks()
        with pytest.raises((errors.NotFoundError, errors.BadRequestError)) as raised:
            client.materialize.get_tables()
    assert cave.restricted_datastack not in visible
    assert cave.restricted_datastack not in str(raised.value)
    assert cave.datastack in str(raised.value)


def test_a_rejected_token_names_the_setup_token_command(cave: LocalCAVE) -> None:
    with (
        client_of(cave, "not-a-real-token") as client,
        pytest.raises(errors.AuthenticationError) as raised,
    ):
        client.info.get_datastacks()
    message = str(raised.value)
    assert f"caveclient-gen setup-token {cave.url}" in message
    assert "caveclient-gen token --check" in message
    assert "not-a-real-token" not in message


def test_a_missing_token_names_the_setup_token_command(cave: LocalCAVE) -> None:
    with client_of(cave, None) as client, pytest.raises(errors.AuthenticationError) as raised:
        client.info.get_datastacks()
    assert "caveclient-gen setup-token" in str(raised.value)


def test_every_exception_a_user_can_see_is_importable_from_errors() -> None:
    import caveclient_gen

    package = caveclient_gen.__path__[0]
    import ast
    from pathlib import Path

    defined = set()
    for path in Path(package).rglob("*.py"):
        if "testing" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id.endswith(("Error", "Exception", "Warning"))
                for base in node.bases
            ):
                defined.add(node.name)
    assert defined
    internal = {"PlannedPartitions"}  # a signal between the partition planner and the export
    missing = sorted(name for name in defined - internal if name not in errors.__all__)
    assert missing == []
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), Exception)
