"""Deterministic random streams: every piece of synthetic data derives from the deployment seed."""

from __future__ import annotations

import random


def seeded_stream(seed: int, purpose: str) -> random.Random:
    """An independent random stream for one purpose, so adding a new purpose never shifts others.

    Synthetic test data, never secrets: a non-cryptographic generator is what makes it repeatable.
    """
    return random.Random(f"{seed}:{purpose}")  # noqa: S311
