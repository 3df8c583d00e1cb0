"""The skeleton service: skeletons built from the level-2 graph (``build``), its bucket of cached
skeletons (``store``), its output formats and payloads, and its routes."""
