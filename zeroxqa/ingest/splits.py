"""Train/dev splits by context, never by question: every question about a paragraph lands on the
same side, so dev measures reading unseen text. Seeded and independent of row order."""

from __future__ import annotations

import hashlib
import math
import random


def assign_splits(context_ids: list[str], *, domain: str, dev_fraction: float, seed: int) -> dict[str, str]:
    """Map each distinct context id to 'train' or 'dev'.

    A domain with a single context keeps it in train (there is nothing to hold out without leaking).
    """
    unique = sorted(set(context_ids))
    n_dev = math.floor(len(unique) * dev_fraction + 0.5) if len(unique) > 1 else 0
    n_dev = min(n_dev, len(unique) - 1)
    rng = random.Random(int(hashlib.sha256(f"{seed}:{domain}".encode()).hexdigest()[:16], 16))
    rng.shuffle(unique)
    dev = set(unique[:n_dev])
    return {c: ("dev" if c in dev else "train") for c in unique}
