"""How well a domain answers questions nobody handed a paragraph for: retrieval recall@k of the question's
own paragraph, and end-to-end EM/F1 (answerable and unanswerable) after reading the top paragraphs, for
each ranking (BM25, dense, fused) and each way of choosing among the read paragraphs; plus the latency of
one question (retrieve + read) at batch 1.

Every domain is its own corpus: its distinct paragraphs (the DevRev setting, where a theme's paragraphs are
all the reader may look in). Each (question, paragraph) pair is read once, whichever rankings retrieved it.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from zeroxqa.config import RetrievalConfig
from zeroxqa.reader.engine import QAEngine
from zeroxqa.reader.metrics import gold_texts, is_answerable, score
from zeroxqa.retrieval.ask import ask, choose, reading
from zeroxqa.retrieval.encoder import encode
from zeroxqa.retrieval.index import DomainIndex

METHODS = ("bm25", "dense", "rrf", "weighted")
CHOICES = ("confidence", "span")


def gold_sets(rows: list[dict]) -> list[tuple[set[str], list[str]]]:
    """Per question: the paragraphs that answer it and the answers they give. A question written once is
    answered by its own paragraph; in some corpora (PolicyQA: more than half its questions) the same question
    is asked of several paragraphs of a domain, each labelled with its own answer, and retrieving any of them
    answers it."""
    def asked(r: dict) -> str:
        return " ".join(r["question"].lower().split())

    answered: dict[str, tuple[set[str], list[str]]] = {}
    for r in filter(is_answerable, rows):
        ids, texts = answered.setdefault(asked(r), (set(), []))
        ids.add(r["context_id"])
        texts += gold_texts(r["answers"])
    return [answered[asked(r)] if is_answerable(r) else ({r["context_id"]}, gold_texts(r["answers"])) for r in rows]


def evaluate_domain(index: DomainIndex, engine: QAEngine, rows: list[dict], methods: tuple[str, ...] = METHODS,
                    ks: tuple[int, ...] = (1, 3, 5), top_k: int = 3, batch_size: int = 64) -> list[dict]:
    """One row per question, ranking and choice rule: the best rank of a paragraph answering it, the answer,
    EM and F1 (against the answers of every paragraph answering it: `gold_sets`)."""
    questions = [r["question"] for r in rows]
    vectors = encode(index.cfg.encoder, questions, index.cfg.batch_size)
    depth = max(max(ks), top_k)
    rankings = {m: [index.search(q, depth, m, vector=v) for q, v in zip(questions, vectors)] for m in methods}
    # read each (question, paragraph) pair once, in one length-grouped batch
    pairs = sorted({(qi, h.index) for hits in rankings.values() for qi, hs in enumerate(hits) for h in hs[:top_k]})
    spans = engine.spans([questions[qi] for qi, _ in pairs], [index.contexts[p] for _, p in pairs], batch_size)
    read = dict(zip(pairs, spans))
    golds_of = gold_sets(rows)
    out = []
    for method, hits_of in rankings.items():
        for qi, (row, hits, (gold_ids, golds)) in enumerate(zip(rows, hits_of, golds_of)):
            rank = next((i + 1 for i, h in enumerate(hits) if h.context_id in gold_ids), 0)
            paragraphs = [reading(h.context_id, h.context, h.score, read[(qi, h.index)], engine.threshold) for h in hits[:top_k]]
            for rule in CHOICES:
                answer = choose(row["question"], paragraphs, rule)
                em, f1 = score(golds, answer.answer)
                out.append({"domain": index.domain, "id": row["id"], "method": method, "choose": rule,
                            "answerable": not row["is_impossible"], "gold_rank": rank, "prediction": answer.answer,
                            "from_gold_paragraph": answer.context_id in gold_ids, "exact": em, "f1": 100.0 * f1})
    return out


def latencies(index: DomainIndex, engine: QAEngine, rows: list[dict], method: str, top_k: int) -> list[dict]:
    """Retrieve + read times of each question alone (batch 1, the question's encoding included)."""
    out = []
    for row in rows:
        t = time.perf_counter()
        answer = ask(index, engine, row["question"], top_k, method)
        out.append({"domain": index.domain, "method": method, "retrieve_ms": answer.retrieve_ms, "read_ms": answer.read_ms,
                    "total_ms": (time.perf_counter() - t) * 1e3})
    return out


def summarize(rows: list[dict], timings: list[dict], ks: tuple[int, ...] = (1, 3, 5), by: tuple[str, ...] = ("method", "choose")) -> list[dict]:
    """Recall@k (answerable questions), EM/F1 overall, HasAns and NoAns, and latency percentiles per group."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    table = []
    for key, group in sorted(groups.items()):
        answerable = [r for r in group if r["answerable"]]
        entry = dict(zip(by, key))
        entry["questions"] = len(group)
        for k in ks:
            entry[f"recall@{k}"] = 100.0 * np.mean([0 < r["gold_rank"] <= k for r in answerable]) if answerable else float("nan")
        entry["exact"] = float(np.mean([r["exact"] for r in group])) * 100
        entry["f1"] = float(np.mean([r["f1"] for r in group]))
        entry["HasAns_f1"] = float(np.mean([r["f1"] for r in answerable])) if answerable else float("nan")
        unanswerable = [r for r in group if not r["answerable"]]
        entry["NoAns_f1"] = float(np.mean([r["f1"] for r in unanswerable])) if unanswerable else float("nan")
        entry["answered_from_gold_paragraph"] = 100.0 * np.mean([r["from_gold_paragraph"] for r in answerable]) if answerable else float("nan")
        times = [t["total_ms"] for t in timings if t["method"] == entry.get("method")]
        entry["p50_ms"] = float(np.percentile(times, 50)) if times else float("nan")
        entry["p95_ms"] = float(np.percentile(times, 95)) if times else float("nan")
        table.append(entry)
    return table


def evaluate(domains: dict[str, tuple[list[dict], list[dict]]], engine: QAEngine, cfg: RetrievalConfig,
             methods: tuple[str, ...] = METHODS, top_k: int = 3, latency_questions: int = 10,
             progress: bool = True) -> tuple[list[dict], list[dict]]:
    """`domains`: name -> (its paragraphs, its questions). Returns (question rows, latency rows)."""
    rows, timings = [], []
    for name, (paragraphs, questions) in tqdm(domains.items(), desc="domains", disable=not progress):
        index = DomainIndex.build(name, paragraphs, cfg)
        rows += evaluate_domain(index, engine, questions, methods, top_k=top_k)
        for method in methods:
            timings += latencies(index, engine, questions[:latency_questions], method, top_k)
    return rows, timings
