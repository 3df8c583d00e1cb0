"""The annotation engine service: the live annotation tables (``tables``, ``columns``, the
``synthetic_tables`` a LocalCAVE starts with), what the engine does with a request (``engine``),
the request bodies it checks (``body_schemas``) and its routes."""
