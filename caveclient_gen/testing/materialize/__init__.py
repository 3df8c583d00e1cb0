"""The materialization service: versions and settings, the tables as materialized (``data``),
request parsing, queries and their responses, Neuroglancer documents, and its routes."""
