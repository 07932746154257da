"""Unanswerable training examples made from answerable ones, to teach the null score.

Two kinds: a question paired with another paragraph of the same article (domain) that contains none of its
answers (the SQuAD 2.0 way; cheap, but the topic often gives it away), and the question's own paragraph with
the sentences that hold its answer deleted (hard: the topic and most of the question's words stay, only the
fact asked for is gone, which is what SQuAD 2.0's written unanswerable questions test).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from zeroxqa.ingest.schema import context_id
from zeroxqa.reader.metrics import is_answerable
from zeroxqa.speed.skim import sentence_spans


def same_article_negatives(rows: list[dict], ratio: float, seed: int = 13) -> list[dict]:
    """About `ratio` negatives per answerable row, each a copy of an answerable question over another
    paragraph of its domain in which no gold answer text occurs (case-insensitive)."""
    distinct: dict[str, dict[str, None]] = {}
    for r in rows:
        distinct.setdefault(r["domain"], {})[r["context"]] = None  # each paragraph once, in order of appearance
    contexts = {d: list(c) for d, c in distinct.items()}

    def another_paragraph(r: dict, rng: random.Random) -> str | None:
        golds = [a["text"].lower() for a in r["answers"]]
        others = [c for c in contexts[r["domain"]] if c != r["context"]]
        return next((o for o in rng.sample(others, min(len(others), 4)) if not any(g in o.lower() for g in golds)), None)

    return _negatives(rows, ratio, seed, "neg", another_paragraph)


def answer_removed_negatives(rows: list[dict], ratio: float, seed: int = 13) -> list[dict]:
    """About `ratio` negatives per answerable row, each the row's question over its own paragraph with every
    sentence that overlaps a gold answer deleted. Skipped when nothing would be left, or when a gold answer
    text still occurs in what is left (case-insensitive: the answer may be stated twice)."""

    def without_the_answer(r: dict, rng: random.Random) -> str | None:
        golds = [(a["start"], a["start"] + len(a["text"])) for a in r["answers"]]
        kept = [(s, e) for s, e in sentence_spans(r["context"]) if not any(s < ge and gs < e for gs, ge in golds)]
        left = " ".join(r["context"][s:e] for s, e in kept)
        return left if left and not any(a["text"].lower() in left.lower() for a in r["answers"]) else None

    return _negatives(rows, ratio, seed, "removed", without_the_answer)


def _negatives(rows: list[dict], ratio: float, seed: int, suffix: str,
               context_for: Callable[[dict, random.Random], str | None]) -> list[dict]:
    """What both kinds share: the answerable rows in a seeded random order, each offered to `context_for` (the
    negative's paragraph, or None to pass the row over) until about `ratio` per answerable row are made."""
    if ratio <= 0:
        return []
    rng = random.Random(seed)
    answerable = [r for r in rows if is_answerable(r)]
    rng.shuffle(answerable)
    wanted, out = round(ratio * len(answerable)), []
    for r in answerable:
        if len(out) >= wanted:
            break
        context = context_for(r, rng)
        if context is not None:
            out.append({**r, "id": f"{r['id']}#{suffix}", "context": context, "context_id": context_id(r["domain"], context),
                        "answers": [], "is_impossible": True})
    return out
