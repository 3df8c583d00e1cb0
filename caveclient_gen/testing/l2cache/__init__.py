"""The L2 cache service: level-2 node features computed from the segmentation, and its routes."""
