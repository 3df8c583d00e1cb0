"""Which measured behaviours of the real servers a deployment reproduces, and which it idealises.

LocalCAVE answers like the real servers by default, including where they are wrong (each was
measured by running the server; see the reference notes on client/server mismatches). Each such
behaviour has a name; a deployment made with ``LocalCAVE(idealised=[name, ...])`` (or
``idealised=True`` for all of them) answers the idealised way instead:

==============================  ==================================================================
name                            faithful default → idealised option
==============================  ==================================================================
``exclusion_filters``           materialization ignores ``filter_notin_dict`` → applies it
``contact_sites``               chunkedgraph ``contact_sites`` answers 500 → answers the sites
``edge_points``                 a point within ``EDGE_MARGIN_VOXELS`` of the volume's edge makes
                                ``find_path``, merge and split answer 500 → the point is clipped
``user_operations_all_users``   ``user_operations`` without ``user_id`` matches nothing → every
                                user's operations
``merge_requested_edge_only``   a merge adds every edge between the two objects inside the
                                (240, 240, 24)-voxel box around the points → only the requested one
``split_weights_once``          a split's mincut weighs edges across chunk boundaries twice → once
``l2_attributes``               L2 cache ``attributes`` answers 500 → answers the features
==============================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .deployment import Deployment

IDEALISABLE = (
    "exclusion_filters",
    "contact_sites",
    "edge_points",
    "user_operations_all_users",
    "merge_requested_edge_only",
    "split_weights_once",
    "l2_attributes",
)
EDGE_MARGIN_VOXELS = 12
"""PyChunkedGraph cuts a box of about this many voxels around a point to find its supervoxel."""
MERGE_BOX_VOXELS = (240, 240, 24)
"""The box around a merge's two points inside which every edge between the objects is added."""


@dataclass
class Fidelity:
    """The idealised behaviours of one deployment (empty: every measured behaviour reproduced)."""

    idealised: frozenset[str] = field(default_factory=frozenset)

    def faithful(self, name: str) -> bool:
        """Whether the deployment reproduces the real server's behaviour `name`."""
        assert name in IDEALISABLE, name
        return name not in self.idealised

    @classmethod
    def of(cls, deployment: Deployment) -> Fidelity:
        return deployment.component(_fidelity_factory)


def _fidelity_factory(deployment: Deployment) -> Fidelity:
    return Fidelity()


def idealised_names(idealised: bool | Iterable[str]) -> frozenset[str]:
    """The names an ``idealised`` argument stands for (True: all); unknown names are refused."""
    if idealised is True:
        return frozenset(IDEALISABLE)
    if idealised is False:
        return frozenset()
    if isinstance(idealised, str):
        idealised = [idealised]
    names = frozenset(idealised)
    unknown = sorted(names - set(IDEALISABLE))
    if unknown:
        raise ValueError(f"unknown idealised behaviours {unknown}; choose from {list(IDEALISABLE)}")
    return names


def configure_fidelity(deployment: Deployment, idealised: bool | Iterable[str]) -> Fidelity:
    """Set which behaviours of a deployment are idealised (see the module's table)."""
    fidelity = Fidelity.of(deployment)
    fidelity.idealised = idealised_names(idealised)
    return fidelity
