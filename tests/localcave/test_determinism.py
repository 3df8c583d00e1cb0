"""Every piece of synthetic data follows from the seed."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from caveclient_gen.testing import Deployment, InProcessTransport, LocalCAVE

from .conftest import bearer


@dataclass(frozen=True)
class SyntheticFacts:
    tokens: dict[str, str]
    base_link_id: int
    state_ids: list[str]
    new_token: str


def synthetic_facts(cave: LocalCAVE) -> SyntheticFacts:
    """Tokens, datastack records and the ids given to new states, read over the API."""
    transport = InProcessTransport(cave.app)
    with httpx.Client(transport=transport, base_url=cave.url, headers=bearer(cave.token)) as client:
        datastack = client.get(f"/info/api/v2/datastack/{cave.datastack}").json()
        state_urls = [client.post("/nglstate/api/v1/post", content=b"{}").json() for _ in range(3)]
        new_token = client.post("/auth/api/v1/user/token").json()
    return SyntheticFacts(
        tokens=dict(cave.tokens),
        base_link_id=datastack["base_link_id"],
        state_ids=[url.rsplit("/", 1)[1] for url in state_urls],
        new_token=new_token,
    )


def test_same_seed_gives_the_same_data() -> None:
    assert synthetic_facts(LocalCAVE(seed=11)) == synthetic_facts(LocalCAVE(seed=11))


def test_another_seed_gives_other_data() -> None:
    first, second = synthetic_facts(LocalCAVE(seed=1)), synthetic_facts(LocalCAVE(seed=2))
    assert first.tokens != second.tokens
    assert first.state_ids != second.state_ids
    assert first.base_link_id != second.base_link_id
    assert first.new_token != second.new_token


def test_tokens_and_state_ids_look_like_the_real_ones() -> None:
    facts = synthetic_facts(LocalCAVE())
    tokens = [*facts.tokens.values(), facts.new_token]
    assert all(re.fullmatch(r"[0-9a-f]{32}", token) for token in tokens)
    assert len(set(tokens)) == len(tokens)
    for state_id in facts.state_ids:
        assert 10**15 <= int(state_id) < 10**16


class SegmentIds:
    """A stand-in for state a later service keeps in the deployment."""

    def __init__(self, deployment: Deployment) -> None:
        stream = deployment.stream("segment-ids")
        self.root_ids = [stream.randrange(2**59, 2**60) for _ in range(3)]


def test_components_are_made_once_per_deployment_from_the_seed() -> None:
    first, again, other_seed = LocalCAVE(seed=5), LocalCAVE(seed=5), LocalCAVE(seed=6)
    component = first.deployment.component(SegmentIds)
    assert first.deployment.component(SegmentIds) is component
    assert again.deployment.component(SegmentIds).root_ids == component.root_ids
    assert other_seed.deployment.component(SegmentIds).root_ids != component.root_ids
