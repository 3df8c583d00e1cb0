"""Typed shapes of the records the client returns, one module per group of services.

Records are plain dicts at run time (code written for caveclient indexes them the same way) and
TypedDicts for type checkers and IDEs, which complete and check their keys.
"""

from .chunkedgraph import (
    ChangeLog,
    ContactSites,
    EditResult,
    GraphSettings,
    LineageGraph,
    LineageLink,
    LineageNode,
    MergeLog,
    OperationDetails,
    PastIdMapping,
    ScaleInfo,
    SegmentationInfo,
    UserEditCounts,
)
from .global_services import (
    AlignedVolumeInfo,
    DatastackInfo,
    GroupMember,
    ImageMirror,
    TokenRecord,
    UserInfo,
)
from .l2cache import L2Attributes, L2CacheTableInfo
from .tables import (
    AnnotationRecord,
    AnnotationTableMetadata,
    TableMetadata,
    VersionMetadata,
    ViewColumnType,
    ViewMetadata,
)

__all__ = [
    "AlignedVolumeInfo",
    "AnnotationRecord",
    "AnnotationTableMetadata",
    "ChangeLog",
    "ContactSites",
    "DatastackInfo",
    "EditResult",
    "GraphSettings",
    "GroupMember",
    "ImageMirror",
    "L2Attributes",
    "L2CacheTableInfo",
    "LineageGraph",
    "LineageLink",
    "LineageNode",
    "MergeLog",
    "OperationDetails",
    "PastIdMapping",
    "ScaleInfo",
    "SegmentationInfo",
    "TableMetadata",
    "TokenRecord",
    "UserEditCounts",
    "UserInfo",
    "VersionMetadata",
    "ViewColumnType",
    "ViewMetadata",
]
