"""Unanswerable training examples made the SQuAD 2.0 way: a question paired with another paragraph of the
same article (domain) that contains none of its answers. Cheap negatives that teach the null score."""

from __future__ import annotations

import random

from zeroxqa.schema import context_id


def same_article_negatives(rows: list[dict], ratio: float, seed: int = 13) -> list[dict]:
    """About `ratio` negatives per answerable row, each a copy of an answerable question over another
    paragraph of its domain in which no gold answer text occurs (case-insensitive)."""
    if ratio <= 0:
        return []
    rng = random.Random(seed)
    distinct: dict[str, dict[str, None]] = {}
    for r in rows:
        distinct.setdefault(r["domain"], {})[r["context"]] = None  # each paragraph once, in order of appearance
    contexts = {d: list(c) for d, c in distinct.items()}
    answerable = [r for r in rows if not r["is_impossible"] and r["answers"]]
    rng.shuffle(answerable)
    wanted, out = round(ratio * len(answerable)), []
    for r in answerable:
        if len(out) >= wanted:
            break
        golds = [a["text"].lower() for a in r["answers"]]
        others = [c for c in contexts[r["domain"]] if c != r["context"]]
        for other in rng.sample(others, min(len(others), 4)):
            low = other.lower()
            if not any(g in low for g in golds):
                out.append({**r, "id": f"{r['id']}#neg", "context": other, "context_id": context_id(r["domain"], other),
                            "answers": [], "is_impossible": True})
                break
    return out
