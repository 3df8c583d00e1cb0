"""Every default of the client in one place. The "Timeouts" and "Retries" sections of docs/errors.md
quote these numbers; change them here and there together."""

from __future__ import annotations

from pathlib import Path

DEFAULT_GLOBAL_SERVER = "https://global.daf-apis.com"
"""Server used when neither `server_address` nor the datastack map names one."""

# ---------------------------------------------------------------- timeouts (seconds)
CONNECT_TIMEOUT = 5.0
"""Time to open a TCP/TLS connection."""
READ_TIMEOUT = 300.0
"""Time to wait for the next bytes of a response: large materialization queries stream for minutes."""
WRITE_TIMEOUT = 60.0
"""Time to send the next bytes of a request body (big id lists, annotation uploads)."""
POOL_TIMEOUT = 60.0
"""Time to wait for a free connection of the shared pool."""

# ---------------------------------------------------------------- connection pool
POOL_MAXSIZE = 16
"""Connections kept open per client, shared by every sub-client (caveclient's `pool_maxsize`, which
defaults to 10; more connections let `client.map` and chunked bulk calls overlap their waits)."""

# ---------------------------------------------------------------- retries
MAX_RETRIES = 3
"""Retries after the first attempt (caveclient's `max_retries`)."""
BACKOFF_INITIAL = 0.5
"""Wait before the first retry; each later wait doubles."""
BACKOFF_MAX = 8.0
"""Longest wait computed by backoff."""
BACKOFF_JITTER = 0.25
"""Each wait is shortened by a random fraction up to this much, so clients do not retry in step."""
RETRY_AFTER_MAX = 60.0
"""A server asking to wait longer than this (Retry-After) is not retried: the error is raised."""
RETRY_STATUSES_READ = frozenset({408, 429, 502, 503, 504})
"""Statuses retried for reads (GETs and the read-only POST queries)."""
RETRY_STATUSES_WRITE = frozenset({429})
"""Statuses retried for writes: only a rate-limit refusal, which the server did not act on."""

# ---------------------------------------------------------------- concurrency of bulk work
BULK_CONCURRENCY = 8
"""Chunks of one bulk call fetched at the same time (bounded by the pool size)."""

# ---------------------------------------------------------------- progress bars
PROGRESS_ENVIRONMENT_VARIABLE = "CAVECLIENT_GEN_PROGRESS"
"""1/true/on shows progress bars, 0/false/off hides them (the client's `progress` argument wins)."""
PROGRESS_MINIMUM = 8
"""Bulk work of fewer steps than this finishes too fast to deserve a progress bar."""
PROGRESS_DOWNLOAD_MINIMUM = 32 * 1024 * 1024
"""A response body gets a progress bar once this many bytes (compressed) have arrived."""

# ---------------------------------------------------------------- whole tables (all_rows, exports)
PARTITION_ROWS = 200_000
"""Most rows asked of one partition until the server's own row cap is known (the materialization
server's default `QUERY_LIMIT_SIZE`); a smaller cap, learned from its warning, takes over."""
PARTITION_CONCURRENCY = 4
"""Partitions of one table fetched at the same time."""
EXPORT_PARTITION_ROWS = 125_000
"""Most rows per request of an export (default of `partition_rows`); a file holds
PARTITION_CONCURRENCY of them, so an export's memory stays at two files' rows (about a million)
whatever the size of the table."""
PARTITION_MAX_ROUNDS = 64
"""Rounds of re-splitting partitions that still hit the row cap before giving up."""

# ---------------------------------------------------------------- tokens
TOKEN_ENVIRONMENT_VARIABLE = "CAVE_TOKEN"
"""Environment variable holding a token (checked after explicit arguments)."""
TOKEN_KEY = "token"
"""Key of the token inside the JSON secret files."""
SECRETS_DIRECTORY = Path("~/.cloudvolume/secrets")
"""Directory of token files shared with caveclient and CloudVolume."""
DEFAULT_TOKEN_FILE = "cave-secret.json"
LEGACY_TOKEN_FILE = "chunkedgraph-secret.json"
SERVER_TOKEN_FILE_SUFFIX = "-cave-secret.json"
"""Server-specific token files are named `<host[:port]>-cave-secret.json`."""
DATASTACK_MAP_FILE = "cave_datastack_to_server_map.json"
"""Map of datastack name to server address, shared with caveclient."""

# ---------------------------------------------------------------- neuroglancer
FALLBACK_NEUROGLANCER_URL = "https://neuroglancer.neuvue.io/"
"""Viewer used for links when the datastack names none."""

# ---------------------------------------------------------------- chunkedgraph / L2 cache bulk chunks
# Big id lists are split into chunks of these sizes and fetched concurrently (BULK_CONCURRENCY at a
# time); results are put back together in input order, identical to one big request.
CHUNKEDGRAPH_ROOTS_CHUNK_SIZE = 500_000
"""Supervoxel ids per `get_roots` request (binary: 8 bytes per id, 4 MB per chunk)."""
CHUNKEDGRAPH_ID_CHUNK_SIZE = 50_000
"""Ids per JSON request of `is_latest_roots`, `get_root_timestamps` and `is_valid_nodes`."""
CHUNKEDGRAPH_LEAVES_CHUNK_SIZE = 20
"""Root ids per `get_leaves_many` request (each root can have hundreds of thousands of leaves)."""
L2CACHE_CHUNK_SIZE = 20_000
"""Level-2 ids per `get_l2data` request."""

# ---------------------------------------------------------------- materialize / annotation
MATERIALIZE_METADATA_TTL = 12 * 3600.0
"""Seconds a materialize sub-client keeps table, view and version metadata (caveclient: 12 h)."""
ANNOTATION_IDS_PER_GET = 400
"""Annotation ids per `get_annotation` request: the ids travel in the URL, which must stay short."""
ANNOTATION_ROWS_PER_POST = 10_000
"""Most annotations the annotation engine accepts in one insert or update (it refuses more with 413)."""
