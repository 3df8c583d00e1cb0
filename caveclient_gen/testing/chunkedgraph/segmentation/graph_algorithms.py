"""Small graph algorithms over integer nodes (connected components, minimum cut, shortest path).

The graphs LocalCAVE works on are one neuron at a time (hundreds of nodes), so plain Python is
fast enough and keeps the package free of graph libraries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

Neighbours = Callable[[int], Iterable[int]]


def components_from_pairs(nodes: Iterable[int], pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Components of ``nodes`` joined by ``pairs`` (union-find): each sorted, by smallest node."""
    parent = {node: node for node in nodes}

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    for a, b in pairs:
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            if root_a < root_b:
                parent[root_b] = root_a
            else:
                parent[root_a] = root_b
    groups: dict[int, list[int]] = {}
    for node in sorted(parent):
        groups.setdefault(find(node), []).append(node)
    return [groups[root] for root in sorted(groups)]


def shortest_path(start: int, goal: int, neighbours: Neighbours) -> list[int] | None:
    """Fewest-hops path from ``start`` to ``goal`` (both included), or None when unreachable."""
    previous: dict[int, int] = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [goal]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return path[::-1]
        for neighbour in neighbours(node):
            if neighbour not in previous:
                previous[neighbour] = node
                queue.append(neighbour)
    return None


def minimum_cut(
    capacities: Mapping[tuple[int, int], float],
    sources: Sequence[int],
    sinks: Sequence[int],
) -> tuple[set[int], list[tuple[int, int]]]:
    """Minimum cut separating ``sources`` from ``sinks`` in an undirected capacitated graph.

    ``capacities`` holds each undirected edge once. Returns the source side of the cut and the cut
    edges (as given in ``capacities``). Edmonds-Karp: breadth-first augmenting paths.
    """
    residual: dict[int, dict[int, float]] = {}
    for (a, b), capacity in capacities.items():
        residual.setdefault(a, {})[b] = residual.get(a, {}).get(b, 0.0) + capacity
        residual.setdefault(b, {})[a] = residual.get(b, {}).get(a, 0.0) + capacity
    super_source, super_sink = -1, -2
    unbounded = 1 + sum(capacities.values())
    residual[super_source] = dict.fromkeys(sources, unbounded)
    residual[super_sink] = {}
    for node in sources:
        residual.setdefault(node, {})[super_source] = 0.0
    for node in sinks:
        residual.setdefault(node, {})[super_sink] = unbounded
        residual[super_sink][node] = 0.0

    while True:
        previous = {super_source: super_source}
        queue = deque([super_source])
        while queue and super_sink not in previous:
            node = queue.popleft()
            for neighbour, remaining in residual[node].items():
                if remaining > 1e-12 and neighbour not in previous:
                    previous[neighbour] = node
                    queue.append(neighbour)
        if super_sink not in previous:
            break
        path = [super_sink]
        while path[-1] != super_source:
            path.append(previous[path[-1]])
        bottleneck = min(residual[previous[node]][node] for node in path[:-1])
        for node in path[:-1]:
            residual[previous[node]][node] -= bottleneck
            residual[node][previous[node]] += bottleneck

    source_side = set(previous) - {super_source}
    cut = [edge for edge in capacities if (edge[0] in source_side) != (edge[1] in source_side)]
    return source_side, cut
