"""Source paths formatted for each consumer (caveclient's format_for, with its bugs fixed)."""

from __future__ import annotations

import pytest

from caveclient_gen._convert.sources import format_source
from caveclient_gen.errors import InvalidInputError

GRAPHENE = "graphene://https://cave.test/segmentation/table/t1"


@pytest.mark.parametrize(
    ("source", "format_for", "expected"),
    [
        (GRAPHENE, "raw", GRAPHENE),
        (GRAPHENE, "cloudvolume", GRAPHENE),
        (GRAPHENE, "neuroglancer", "graphene://middleauth+https://cave.test/segmentation/table/t1"),
        (GRAPHENE, "spelunker", "graphene://middleauth+https://cave.test/segmentation/table/t1"),
        (
            "graphene://middleauth+https://c.test/t",
            "cave_explorer",
            "graphene://middleauth+https://c.test/t",
        ),
        # caveclient dropped the bucket here; it is kept.
        (
            "gs://bucket/em/v1",
            "cloudvolume",
            "precomputed://https://storage.googleapis.com/bucket/em/v1",
        ),
        ("gs://bucket/em/v1", "neuroglancer", "precomputed://gs://bucket/em/v1"),
        # caveclient returned None for these two.
        ("precomputed://gs://bucket/em", "neuroglancer", "precomputed://gs://bucket/em"),
        (
            "precomputed://https://storage.googleapis.com/bucket/em",
            "cave-explorer",
            "precomputed://gs://bucket/em",
        ),
        ("https://host.test/em", "cloudvolume", "precomputed://https://host.test/em"),
        ("precomputed://https://host.test/em", "cloudvolume", "precomputed://https://host.test/em"),
        ("zarr://s3://bucket/x", "neuroglancer", "zarr://s3://bucket/x"),
    ],
)
def test_format_source(source: str, format_for: str, expected: str) -> None:
    assert format_source(source, format_for) == expected


def test_unknown_format_is_named() -> None:
    with pytest.raises(InvalidInputError, match="format_for"):
        format_source(GRAPHENE, "vtk")
