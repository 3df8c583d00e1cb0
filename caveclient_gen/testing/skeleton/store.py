"""The skeleton service's bucket: which skeletons were generated (cached as version 4 H5 files),
the refusal list, and the skeletons themselves (built once per root, on first use).

A seeded share of the current roots, and the heavily edited neuron, start out cached; asking for
any other valid root generates it (the real service's workers, finished at once), after which
the cache reports it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..chunkedgraph.segmentation.graph import SegmentationGraph
from ..world.deployment import Deployment
from .build import Skeleton, build_skeleton

INITIALLY_CACHED_SHARE = 0.6
_BUILT_SKELETONS_KEPT = 64
# An entry of another datastack: the service's refusal list is global, not per datastack.
_FOREIGN_REFUSAL = ("minnie65_phase3_v1", 864691135000000001)


class SkeletonStore:
    def __init__(self, deployment: Deployment) -> None:
        self._graph = deployment.component(SegmentationGraph)
        self._lock = threading.RLock()
        stream = deployment.stream("skeleton-cache")
        # The cache as the seeded history left it, whatever was edited live before this was made.
        seeded = self._graph.epoch_time(self._graph.seeded_epoch)
        latest = self._graph.roots_alive_at(seeded).tolist()
        self._cached = {root for root in latest if stream.random() < INITIALLY_CACHED_SHARE}
        self._cached.add(int(self._graph.roots_at(self._graph.soma_supervoxels()[:1], seeded)[0]))
        self._refusals = [
            *((deployment.default_datastack, root) for root in self._graph.refused_roots),
            _FOREIGN_REFUSAL,
        ]
        self._built: OrderedDict[int, Skeleton] = OrderedDict()
        self._token_stream = deployment.stream("skeleton-storage-tokens")

    @property
    def graph(self) -> SegmentationGraph:
        return self._graph

    def refusal_list(self) -> list[tuple[str, int]]:
        return list(self._refusals)

    def is_refused(self, datastack: str, root_id: int) -> bool:
        return (datastack, root_id) in self._refusals

    def is_cached(self, root_id: int) -> bool:
        with self._lock:
            return root_id in self._cached

    def cached_roots(self) -> list[int]:
        with self._lock:
            return sorted(self._cached)

    def generate(self, root_id: int) -> None:
        """Generate (and cache) the skeleton of a root id of the segmentation."""
        self.skeleton(root_id)
        with self._lock:
            self._cached.add(root_id)

    def new_storage_token(self) -> str:
        """A short-lived (fake) storage token, as the service mints them for direct downloads."""
        with self._lock:
            return f"ya29.localcave.{self._token_stream.getrandbits(256):064x}"

    def skeleton(self, root_id: int) -> Skeleton:
        with self._lock:
            built = self._built.get(root_id)
            if built is not None:
                self._built.move_to_end(root_id)
                return built
        with self._graph.lock:
            built = build_skeleton(self._graph, root_id)
        with self._lock:
            self._built[root_id] = built
            if len(self._built) > _BUILT_SKELETONS_KEPT:
                self._built.popitem(last=False)
        return built
