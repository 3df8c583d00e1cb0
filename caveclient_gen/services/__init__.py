"""One sub-client per CAVE service, each written once for the sync and the async client."""
