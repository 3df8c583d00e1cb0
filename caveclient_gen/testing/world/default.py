"""The synthetic world a LocalCAVE starts with, modelled on the MICrONS minnie65 deployment.

Two datastacks share one aligned volume. The default datastack belongs to the auth dataset named
after the aligned volume (with Terms of Service); the restricted one belongs to its own dataset,
which only the superadmin may see. Users: ``admin`` (superadmin, everything granted and accepted),
plus by default ``viewer`` (view on the main dataset) and ``newcomer`` (view and edit granted, Terms
of Service not yet accepted).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..auth.identity import LocalUser
from ..state.store import STATE_COLUMNS
from .deployment import AlignedVolume, Datastack, Deployment, ImageSource

DEFAULT_DATASTACK = "minnie65_local"
DEFAULT_ALIGNED_VOLUME = "minnie65_phase3"
SUPERADMIN = "admin"
PCG_TABLE = "minnie3_v1"
SYNAPSE_TABLE = "synapses_pni_2"
SOMA_TABLE = "nucleus_detection_v0"
VIEWER_SITE = "https://spelunker.cave-explorer.org"
VIEWER_RESOLUTION = (4.0, 4.0, 40.0)
IMAGE_MIRRORS = (
    (
        "bossdb",
        "precomputed://https://bossdb-open-data.s3.amazonaws.com/iarpa_microns/minnie/minnie65/em",
    ),
    ("google", "precomputed://gs://iarpa_microns/minnie/minnie65/em"),
)
ALL_PERMISSIONS = ("view", "edit", "admin", "admin_view")
# Fixed creation dates keep every listing identical from run to run.
_ACCOUNTS_CREATED = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class WorldSettings:
    seed: int
    base_url: str
    datastack: str
    aligned_volume: str
    users: Sequence[LocalUser] | None
    latency: float


def restricted_datastack_name(datastack: str) -> str:
    return f"{datastack}_restricted"


def default_extra_users(main_dataset: str) -> tuple[LocalUser, ...]:
    return (
        LocalUser("viewer", permissions={main_dataset: ("view",)}),
        LocalUser("newcomer", permissions={main_dataset: ("view", "edit")}, tos_accepted=False),
    )


def build_deployment(settings: WorldSettings) -> Deployment:
    restricted = restricted_datastack_name(settings.datastack)
    deployment = Deployment(
        seed=settings.seed,
        base_url=settings.base_url,
        default_datastack=settings.datastack,
        restricted_datastack=restricted,
        latency=settings.latency,
    )
    main_dataset = settings.aligned_volume
    _add_auth_datasets(deployment, main_dataset, restricted)
    _add_users(deployment, main_dataset, restricted, settings.users)
    _add_aligned_volume(deployment, settings.aligned_volume)
    for name in (settings.datastack, restricted):
        _add_datastack(deployment, name, settings.aligned_volume)
    return deployment


def _add_auth_datasets(deployment: Deployment, main_dataset: str, restricted: str) -> None:
    identity = deployment.identity
    identity.add_dataset(main_dataset, terms_of_service=f"{main_dataset} Terms of Service")
    identity.add_dataset(restricted)


def _add_users(
    deployment: Deployment,
    main_dataset: str,
    restricted: str,
    extra_users: Sequence[LocalUser] | None,
) -> None:
    superadmin = LocalUser(
        SUPERADMIN,
        permissions={main_dataset: ALL_PERMISSIONS, restricted: ALL_PERMISSIONS},
        groups=("default", "admins"),
        superadmin=True,
        datasets_admin=(main_dataset, restricted),
        groups_admin=("admins",),
        pi="LocalCAVE",
    )
    users = default_extra_users(main_dataset) if extra_users is None else tuple(extra_users)
    for index, spec in enumerate((superadmin, *users)):
        deployment.add_user(spec, created=_ACCOUNTS_CREATED + timedelta(days=index))


def _add_aligned_volume(deployment: Deployment, name: str) -> None:
    deployment.aligned_volumes[name] = AlignedVolume(
        id=len(deployment.aligned_volumes) + 1,
        name=name,
        display_name=f"{name} (LocalCAVE)",
        description="Synthetic aligned volume served by LocalCAVE.",
        image_source=IMAGE_MIRRORS[0][1],
    )
    deployment.identity.map_resource("aligned_volume", name, name)
    for mirror_name, source in IMAGE_MIRRORS:
        deployment.image_sources.append(
            ImageSource(
                id=len(deployment.image_sources) + 1,
                name=mirror_name,
                viewer_layer_name=f"img_{mirror_name}",
                image_source=source,
                description=f"EM imagery mirrored on {mirror_name}",
                aligned_volume=name,
            )
        )


def _add_datastack(deployment: Deployment, name: str, aligned_volume: str) -> None:
    base_url = deployment.base_url
    is_restricted = name == deployment.restricted_datastack
    segmentation_source = f"graphene://{base_url}/segmentation/table/{PCG_TABLE}"
    deployment.datastacks[name] = Datastack(
        id=len(deployment.datastacks) + 1,
        name=name,
        display_name=name.replace("_", " "),
        viewer_layer_name="seg",
        aligned_volume=aligned_volume,
        pcg_table=PCG_TABLE,
        segmentation_source=segmentation_source,
        skeleton_source=(f"precomputed://{base_url}/skeletoncache/api/v1/{name}/precomputed/skeleton"),
        analysis_database=None,
        viewer_site=VIEWER_SITE,
        synapse_table=SYNAPSE_TABLE,
        soma_table=SOMA_TABLE,
        proofreading_status_table=None,
        cell_identification_table=None,
        proofreading_review_table=None,
        local_server=base_url,
        description=(
            "Restricted datastack: only the superadmin may view it."
            if is_restricted
            else "Synthetic datastack served by LocalCAVE."
        ),
        viewer_resolution=VIEWER_RESOLUTION,
        base_link_id=_store_base_state(deployment, segmentation_source),
    )
    identity = deployment.identity
    dataset = name if is_restricted else aligned_volume
    identity.map_resource("datastack", name, dataset)
    if identity.dataset_of_resource("pychunkedgraph", PCG_TABLE) is None:
        identity.map_resource("pychunkedgraph", PCG_TABLE, aligned_volume)


def _store_base_state(deployment: Deployment, segmentation_source: str) -> int:
    """A Neuroglancer state to open the datastack with (the info service's ``base_link_id``)."""
    positions = deployment.stream(f"base-state-{len(deployment.datastacks)}")
    state = {
        "dimensions": {"x": [4e-9, "m"], "y": [4e-9, "m"], "z": [4e-8, "m"]},
        "position": [
            positions.randrange(100_000, 300_000),
            positions.randrange(100_000, 250_000),
            positions.randrange(15_000, 27_000),
        ],
        "layers": [
            {"type": "image", "source": IMAGE_MIRRORS[0][1], "name": "img"},
            {
                "type": "segmentation",
                "source": segmentation_source.replace("://http", "://middleauth+http", 1),
                "name": "seg",
            },
        ],
        "layout": "xy-3d",
    }
    superadmin = deployment.identity.account_named(SUPERADMIN)
    return deployment.states.add(
        json.dumps(state).encode(),
        columns=STATE_COLUMNS,
        user_id=str(superadmin.id),
        date=_ACCOUNTS_CREATED,
    )
