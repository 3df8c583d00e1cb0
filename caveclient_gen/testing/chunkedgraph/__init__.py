"""The chunkedgraph service (PyChunkedGraph): its routes (``routes`` with the lookup, edit and
history route modules), the answers they compute (``queries``, ``history``) and the synthetic
segmentation they read and edit (``segmentation``)."""
