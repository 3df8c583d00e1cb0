"""What serves the services: the ASGI app and its mount table, middleware, the Flask, flask-restx
and PyChunkedGraph wire encodings, the in-process transport, :class:`LocalCAVE` and ``serve``."""
