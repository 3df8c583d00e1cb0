"""The synthetic segmentation (``graph.SegmentationGraph``): ids, volume, supervoxel graph, the
nodes over time, edits, and the seeded neurons and proofreading history it starts with."""
