"""Tasks are domains: sampling them by size with a temperature, and splitting one into support and query
by context (a paragraph is never on both sides)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass
class Task:
    domain: str
    support: list[dict]
    query: list[dict]


def sampling_weights(sizes: dict[str, int], temperature: float) -> dict[str, float]:
    """p(domain) ~ size^(1/T): T = 1 is proportional to size, T -> infinity uniform."""
    power = 0.0 if math.isinf(temperature) else 1.0 / temperature
    raw = {d: n**power for d, n in sizes.items() if n > 0}
    total = sum(raw.values())
    return {d: w / total for d, w in raw.items()}


def split_support_query(rows: list[dict], n_support: int, n_query: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    by_context: dict[str, list[dict]] = {}
    for r in rows:
        by_context.setdefault(r["context_id"], []).append(r)
    contexts = sorted(by_context)
    rng.shuffle(contexts)
    support: list[dict] = []
    query: list[dict] = []
    for c in contexts:
        target = support if len(support) < n_support else query
        if target is query and len(query) >= n_query:
            break
        target.extend(by_context[c])
    if not query:  # a domain with a single paragraph: fall back to a split by question
        query = support[n_support:] or support[-n_query:]
    return support[:n_support], query[:n_query]


def sample_tasks(domains: dict[str, list[dict]], n: int, temperature: float, n_support: int, n_query: int, seed: int) -> list[Task]:
    """`n` tasks for one meta-step, reproducible from `seed` alone (so a resumed run samples the same)."""
    rng = random.Random(seed)
    weights = sampling_weights({d: len(r) for d, r in domains.items()}, temperature)
    names = sorted(weights)
    picked = rng.choices(names, weights=[weights[d] for d in names], k=n)
    return [Task(d, *split_support_query(domains[d], n_support, n_query, rng)) for d in picked]
