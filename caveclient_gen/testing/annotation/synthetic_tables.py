"""The annotation tables a LocalCAVE starts with, modelled on minnie65's.

* ``synapses_pni_2`` (schema ``synapse``): pre/post points sampled inside segments, a centre
  point between them, a size; ``MaterializationSettings.synapse_count`` rows.
* ``nucleus_detection_v0`` (schema ``nucleus_detection``): one point per detected nucleus with a
  volume and a bounding box.
* ``allen_soma_coarse_cell_class_model_v2`` (schema ``cell_type_reference``, referencing the
  nucleus table): a cell type for most nuclei; it carries an owner's notice.

Rows are built with numpy on first use, deterministically from the deployment seed. Positions are
in 4 x 4 x 40 nm voxels; supervoxel ids are what the segmentation has at those voxels. Row
creation times spread over the history so that older versions hold fewer rows, and a few rows are
deleted between the two valid versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..materialize.settings import MaterializationSettings
from ..materialize.versions import MaterializationTimeline
from .tables import AnnotationTable, AnnotationTableStore, empty_rows, storage_columns

if TYPE_CHECKING:
    from ..world.deployment import Deployment

SYNAPSE_TABLE = "synapses_pni_2"
NUCLEUS_TABLE = "nucleus_detection_v0"
CELL_TYPE_TABLE = "allen_soma_coarse_cell_class_model_v2"
ANNOTATION_RESOLUTION = (4.0, 4.0, 40.0)
CELL_TYPE_NOTICE = "Coarse cell classes from a model; check a cell before relying on its class."
_DELETED_SHARE = 0.01
_CELL_TYPED_SHARE = 0.85
_LOOKUP_RETRIES = 8
# (cell type, classification system, relative frequency)
_CELL_CLASSES = (
    ("23P", "aibs_coarse_excitatory", 20),
    ("4P", "aibs_coarse_excitatory", 15),
    ("5P-IT", "aibs_coarse_excitatory", 10),
    ("5P-ET", "aibs_coarse_excitatory", 4),
    ("5P-NP", "aibs_coarse_excitatory", 2),
    ("6P-IT", "aibs_coarse_excitatory", 10),
    ("6P-CT", "aibs_coarse_excitatory", 8),
    ("BC", "aibs_coarse_inhibitory", 5),
    ("MC", "aibs_coarse_inhibitory", 4),
    ("BPC", "aibs_coarse_inhibitory", 3),
    ("NGC", "aibs_coarse_inhibitory", 2),
    ("astrocyte", "aibs_coarse_nonneuronal", 8),
    ("microglia", "aibs_coarse_nonneuronal", 3),
    ("oligo", "aibs_coarse_nonneuronal", 4),
    ("OPC", "aibs_coarse_nonneuronal", 2),
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def annotation_tables(deployment: Deployment) -> AnnotationTableStore:
    """The deployment's annotation tables, starting with the synthetic ones of every aligned volume.

    The component every service reads: ``deployment.component(annotation_tables)``.
    """
    store = AnnotationTableStore(deployment)
    for volume in deployment.aligned_volumes:
        add_synthetic_tables(deployment, store, volume)
    return store


def add_synthetic_tables(
    deployment: Deployment, store: AnnotationTableStore, aligned_volume: str
) -> None:
    """Register the three tables (their rows are built on first use)."""
    timeline = deployment.component(MaterializationTimeline)
    owner = str(deployment.identity.account_named("admin").id) if _has_admin(deployment) else "1"
    created = timeline.tables_created
    datastack = next(
        (d for d in deployment.datastacks.values() if d.aligned_volume == aligned_volume), None
    )
    pcg_table = datastack.pcg_table if datastack is not None else "minnie3_v1"
    segmentation_source = datastack.segmentation_source if datastack is not None else None
    last_updated = timeline.version_times[max(timeline.version_times)]

    def builder(make: str) -> pd.DataFrame:
        return _SyntheticRows(deployment, store).build(make)

    synapses = store.create_table(
        aligned_volume,
        SYNAPSE_TABLE,
        "synapse",
        description=(
            "Automated synapse detections (LocalCAVE synthetic data): a presynaptic and a "
            "postsynaptic point bound to the segmentation, a centre point and a size in voxels."
        ),
        user_id=owner,
        voxel_resolution=ANNOTATION_RESOLUTION,
        created=created,
        rows=lambda: builder(SYNAPSE_TABLE),
    )
    nuclei = store.create_table(
        aligned_volume,
        NUCLEUS_TABLE,
        "nucleus_detection",
        description="Automated nucleus detections (LocalCAVE synthetic data), volumes in um^3.",
        user_id=owner,
        voxel_resolution=ANNOTATION_RESOLUTION,
        created=created,
        rows=lambda: builder(NUCLEUS_TABLE),
    )
    store.create_table(
        aligned_volume,
        CELL_TYPE_TABLE,
        "cell_type_reference",
        description="Coarse cell classes of detected nuclei (LocalCAVE synthetic data).",
        user_id=owner,
        voxel_resolution=ANNOTATION_RESOLUTION,
        created=created,
        reference_table=NUCLEUS_TABLE,
        notice_text=CELL_TYPE_NOTICE,
        rows=lambda: builder(CELL_TYPE_TABLE),
    )
    for table in (synapses, nuclei):
        segmentation = store.add_segmentation(
            table, pcg_table_name=pcg_table, segmentation_source=segmentation_source, created=created
        )
        segmentation.last_updated = last_updated
    for name in store.table_names(aligned_volume):
        found = store.find(aligned_volume, name)
        if found is not None:
            found.metadata.last_modified = _last_change(timeline)


def _has_admin(deployment: Deployment) -> bool:
    return any(account.name == "admin" for account in deployment.identity.accounts())


def _last_change(timeline: MaterializationTimeline) -> datetime:
    start, end = timeline.deletions_period
    return start + (end - start) * 0.9


class _SyntheticRows:
    """Builds the rows of the synthetic tables; nucleus rows are needed by the cell types too."""

    def __init__(self, deployment: Deployment, store: AnnotationTableStore) -> None:
        from ..chunkedgraph.segmentation.graph import SegmentationGraph

        self._deployment = deployment
        self._store = store
        self._graph = deployment.component(SegmentationGraph)
        self._timeline = deployment.component(MaterializationTimeline)
        self._settings = MaterializationSettings.of(deployment)
        self._settings.built = True

    def _rng(self, purpose: str) -> np.random.Generator:
        return np.random.default_rng(self._deployment.stream(f"materialize-{purpose}").getrandbits(64))

    def build(self, table: str) -> pd.DataFrame:
        if table == SYNAPSE_TABLE:
            return self._synapses()
        if table == NUCLEUS_TABLE:
            return self._nuclei()
        return self._cell_types()

    # -- shared pieces ---------------------------------------------------------------------

    def _points(self, rng: np.random.Generator, count: int) -> tuple[FloatArray, IntArray]:
        """Voxel positions inside segments and the supervoxels the segmentation has there."""
        resolution = np.asarray(ANNOTATION_RESOLUTION)
        voxels = np.empty((count, 3))
        supervoxels = np.zeros(count, dtype=np.int64)
        todo = np.arange(count)
        for _ in range(_LOOKUP_RETRIES):
            nanometres, _ = self._graph.sample_points(rng, len(todo))
            voxels[todo] = np.floor(nanometres / resolution)
            found = self._graph.supervoxels_at(voxels[todo], resolution).astype(np.int64)
            supervoxels[todo] = found
            todo = todo[found == 0]
            if len(todo) == 0:
                break
        return voxels, supervoxels

    def _ids_and_times(
        self, rng: np.random.Generator, count: int
    ) -> tuple[IntArray, npt.NDArray[np.datetime64], npt.NDArray[np.datetime64]]:
        """Increasing ids with gaps, creation times in id order, and a few deletion times."""
        ids = np.cumsum(rng.integers(1, 4, size=count)).astype(np.int64)
        created = np.sort(_times_in_periods(rng, self._timeline, count))
        deleted = np.full(count, np.datetime64("NaT", "ns"))
        start, end = (np.datetime64(moment, "ns") for moment in self._timeline.deletions_period)
        candidates = np.flatnonzero(created < start)
        chosen = rng.choice(candidates, size=int(len(candidates) * _DELETED_SHARE), replace=False)
        span = (end - start).astype(np.int64)
        deleted[chosen] = _microseconds(
            start + rng.integers(0, span, size=len(chosen)).astype("timedelta64[ns]")
        )
        return ids, created, deleted

    @staticmethod
    def _frame(columns: dict[str, object], storage: list[tuple[str, str]]) -> pd.DataFrame:
        frame = pd.DataFrame(columns)
        return frame[[name for name, _ in storage]].astype(dict(storage))

    def _crud(
        self, ids: IntArray, created: npt.NDArray[np.datetime64], deleted: npt.NDArray[np.datetime64]
    ) -> dict[str, object]:
        return {
            "id": ids,
            "created": created,
            "deleted": deleted,
            "superceded_id": pd.array([None] * len(ids), dtype="Int64"),
            "valid": np.isnat(deleted),
        }

    # -- tables ----------------------------------------------------------------------------

    def _synapses(self) -> pd.DataFrame:
        from .columns import schema_model

        rng = self._rng("synapses")
        count = self._settings.synapse_count
        pre, pre_sv = self._points(rng, count)
        post, post_sv = self._points(rng, count)
        centre = np.floor((pre + post) / 2)
        ids, created, deleted = self._ids_and_times(rng, count)
        columns = self._crud(ids, created, deleted)
        for name, voxels in (("pre_pt", pre), ("post_pt", post), ("ctr_pt", centre)):
            for axis, index in (("x", 0), ("y", 1), ("z", 2)):
                columns[f"{name}_position_{axis}"] = voxels[:, index]
        columns["pre_pt_supervoxel_id"] = pre_sv
        columns["post_pt_supervoxel_id"] = post_sv
        columns["size"] = np.round(rng.lognormal(mean=6.0, sigma=0.9, size=count))
        model = schema_model("synapse")
        assert model is not None
        return self._frame(columns, storage_columns(model))

    def _nuclei(self) -> pd.DataFrame:
        from .columns import schema_model

        rng = self._rng("nuclei")
        count = self._settings.nucleus_count
        centre, supervoxels = self._points(rng, count)
        ids, created, deleted = self._ids_and_times(rng, count)
        ids = ids * 7 + 73_000  # minnie-like nucleus ids
        columns = self._crud(ids, created, deleted)
        half_box = np.array([600.0, 600.0, 12.0]) * rng.uniform(0.8, 1.2, size=(count, 1))
        for name, voxels in (
            ("pt", centre),
            ("bb_start", np.floor(centre - half_box)),
            ("bb_end", np.floor(centre + half_box)),
        ):
            for axis, index in (("x", 0), ("y", 1), ("z", 2)):
                columns[f"{name}_position_{axis}"] = voxels[:, index]
        columns["pt_supervoxel_id"] = supervoxels
        columns["volume"] = np.round(rng.normal(260.0, 70.0, size=count).clip(40.0), 3)
        model = schema_model("nucleus_detection")
        assert model is not None
        return self._frame(columns, storage_columns(model))

    def _cell_types(self) -> pd.DataFrame:
        from .columns import schema_model

        model = schema_model("cell_type_reference")
        assert model is not None
        store = self._store
        volume = next(iter(self._deployment.aligned_volumes))
        nuclei: AnnotationTable | None = store.find(volume, NUCLEUS_TABLE)
        if nuclei is None:
            return empty_rows(model)
        nucleus_rows = nuclei.rows
        rng = self._rng("cell-types")
        typed = np.sort(
            rng.choice(len(nucleus_rows), size=int(len(nucleus_rows) * _CELL_TYPED_SHARE), replace=False)
        )
        count = len(typed)
        weights = np.array([weight for _, _, weight in _CELL_CLASSES], dtype=float)
        classes = rng.choice(len(_CELL_CLASSES), size=count, p=weights / weights.sum())
        ids = np.arange(1, count + 1, dtype=np.int64)
        # A cell is classified some time after its nucleus was detected.
        nucleus_created = nucleus_rows["created"].to_numpy()[typed]
        latest = np.datetime64(self._timeline.version_times[max(self._timeline.version_times)], "ns")
        room = (latest - nucleus_created).astype(np.int64)
        created = _microseconds(
            nucleus_created + (rng.uniform(0.0, 0.5, size=count) * room).astype("timedelta64[ns]")
        )
        order = np.argsort(created, kind="stable")
        columns = self._crud(ids, created[order], np.full(count, np.datetime64("NaT", "ns")))
        columns["target_id"] = nucleus_rows["id"].to_numpy()[typed][order]
        columns["classification_system"] = np.array([_CELL_CLASSES[c][1] for c in classes])[order]
        columns["cell_type"] = np.array([_CELL_CLASSES[c][0] for c in classes])[order]
        return self._frame(columns, storage_columns(model))


def _times_in_periods(
    rng: np.random.Generator, timeline: MaterializationTimeline, count: int
) -> npt.NDArray[np.datetime64]:
    shares = np.array([period.share for period in timeline.row_periods])
    period_of_row = rng.choice(len(shares), size=count, p=shares / shares.sum())
    starts = np.array([np.datetime64(p.start, "ns") for p in timeline.row_periods])
    spans = np.array(
        [
            (np.datetime64(p.end, "ns") - np.datetime64(p.start, "ns")).astype(np.int64)
            for p in timeline.row_periods
        ]
    )
    offsets = (rng.uniform(0.0, 1.0, size=count) * spans[period_of_row]).astype("timedelta64[ns]")
    return _microseconds(starts[period_of_row] + offsets)


def _microseconds(moments: npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
    """Times as Postgres keeps them: whole microseconds."""
    return moments.astype("datetime64[us]").astype("datetime64[ns]")
