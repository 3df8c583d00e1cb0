"""The version of caveclient_gen (also in pyproject.toml)."""

__version__ = "0.1.0"
