"""Synthetic QA for one domain's paragraphs: parse -> answer candidates -> questions -> round-trip filter
-> unanswerable negatives -> canonical rows, with a provenance row for every candidate and every proposed
negative (kept or not, and why), so the counts reconcile and nothing is dropped silently."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from zeroxqa.config import SynthConfig
from zeroxqa.reader.engine import QAEngine
from zeroxqa.progress import bar as progress_bar
from zeroxqa.synth.candidates import Candidate, candidates
from zeroxqa.synth.questions import QuestionGenerator
from zeroxqa.synth.roundtrip import Verdict, ask
from zeroxqa.ingest.validate import check_answer

PROVENANCE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),  # the QA row's id; null when the pair was not kept
        ("kind", pa.string()),  # "positive" or "negative"
        ("domain", pa.string()),
        ("paragraph_id", pa.string()),
        ("context_id", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("candidate_type", pa.string()),  # entity / noun_chunk / number; negatives: the borrowed question's
        ("label", pa.string()),
        ("answer", pa.string()),
        ("answer_start", pa.int64()),
        ("generator", pa.string()),
        ("template", pa.string()),
        ("question", pa.string()),
        ("from_context_id", pa.string()),  # negatives: the paragraph the question was generated from
        ("pred_text", pa.string()),
        ("f1", pa.float64()),
        ("confidence", pa.float64()),
        ("kept", pa.bool_()),
        ("reason", pa.string()),  # why it was not kept
    ]
)


@dataclass
class SynthResult:
    rows: list[dict]  # canonical QA rows (positives, then negatives)
    provenance: list[dict]
    quarantine: list[dict]
    counts: Counter = field(default_factory=Counter)


def _id(prefix: str, *parts: object) -> str:
    return f"{prefix}-" + hashlib.sha1("\x00".join(map(str, parts)).encode("utf-8")).hexdigest()[:16]


def parse(paragraphs: list[dict], cfg: SynthConfig, nlp=None) -> list:
    """spaCy Docs of the paragraphs, in order (spaCy keeps order with `n_process` > 1 too)."""
    import spacy

    nlp = nlp or spacy.load(cfg.spacy_model)
    texts = (p["context"] for p in paragraphs)
    return list(progress_bar(nlp.pipe(texts, n_process=cfg.n_process, batch_size=cfg.batch_size), total=len(paragraphs),
                             desc="parse", unit="paragraph"))


def _provenance(p: dict, **kw) -> dict:
    base = {
        "id": None, "kind": "positive", "domain": p["domain"], "paragraph_id": p["id"], "context_id": p["context_id"],
        "source_file": p["source"]["file"], "source_row": p["source"]["row"], "candidate_type": None, "label": None,
        "answer": None, "answer_start": None, "generator": None, "template": None, "question": None,
        "from_context_id": None, "pred_text": None, "f1": None, "confidence": None, "kept": False, "reason": None,
    }
    return base | kw


def _qa_row(p: dict, rid: str, question: str, answers: list[dict]) -> dict:
    return {
        "id": rid, "domain": p["domain"], "context_id": p["context_id"], "context": p["context"], "question": question,
        "answers": answers, "is_impossible": not answers, "source": dict(p["source"]), "split": p.get("split") or "train",
    }


def positives(paragraphs: list[dict], docs: list, cfg: SynthConfig, generator: QuestionGenerator,
              engine: QAEngine | None, result: SynthResult) -> None:
    """Candidates, their questions and the round-trip filter; fills `result`."""
    items: list[tuple[int, Candidate]] = [(i, c) for i, doc in enumerate(docs) for c in candidates(doc, cfg)]
    result.counts["candidates"] = len(items)
    questions = generator([(docs[i], c) for i, c in items])
    asked = [(i, c, q) for (i, c), q in zip(items, questions) if q is not None]
    verdicts: list[Verdict | None] = [None] * len(asked)
    if engine is not None:
        verdicts = ask(engine, [q.text for _, _, q in asked], [paragraphs[i]["context"] for i, _, _ in asked],
                       [c.text for _, c, _ in asked], cfg.batch_size)
    for (i, c), q in zip(items, questions):
        if q is None:
            result.counts["no_question"] += 1
            result.provenance.append(_provenance(paragraphs[i], candidate_type=c.kind, label=c.label, answer=c.text,
                                                 answer_start=c.start, generator=generator.name, reason="the generator gave no question"))
    for (i, c, q), v in zip(asked, verdicts):
        p = paragraphs[i]
        prov = _provenance(p, kind="positive", candidate_type=c.kind, label=c.label, answer=c.text, answer_start=c.start,
                           generator=generator.name, template=q.template, question=q.text)
        if v is not None:
            prov |= {"pred_text": v.pred_text, "f1": v.f1, "confidence": v.confidence}
            if v.f1 < cfg.min_f1 or v.confidence < cfg.min_confidence:
                prov["reason"] = f"round trip: F1 {v.f1:.2f} (min {cfg.min_f1}), confidence {v.confidence:.2f} (min {cfg.min_confidence})"
                result.counts["dropped_by_filter"] += 1
                result.provenance.append(prov)
                continue
        answer = {"text": c.text, "start": c.start}
        problem, repair = check_answer(p["context"], answer)
        if problem or repair:  # spaCy offsets are exact, so this only catches a bug: quarantine, never mend
            result.counts["quarantined"] += 1
            result.quarantine.append({"source": dict(p["source"]), "domain": p["domain"], "id": p["id"],
                                      "reason": f"synthetic answer offset: {problem or repair}", "raw": f"{q.text} -> {c.text!r}@{c.start}"})
            result.provenance.append(prov | {"reason": "quarantined: answer offset does not match the paragraph"})
            continue
        rid = _id("syn", p["context_id"], q.text, c.start)
        result.rows.append(_qa_row(p, rid, q.text, [answer]))
        result.provenance.append(prov | {"id": rid, "kept": True})
        result.counts["kept"] += 1
    result.counts["questions"] = len(asked)


def negatives(paragraphs: list[dict], cfg: SynthConfig, engine: QAEngine | None, result: SynthResult) -> None:
    """SQuAD 2.0-style negatives: a kept question of another paragraph of the same domain, asked here.
    The lexical check: its answer does not occur in this paragraph. The reader check: the reader's
    confidence in any span here stays below `negative_max_confidence`."""
    target = round(cfg.negative_ratio * result.counts["kept"])
    result.counts["negatives_target"] = target
    if target == 0:
        return
    rng = random.Random(cfg.seed)
    kept = [r for r in result.rows if not r["is_impossible"]]
    proposals: list[tuple[dict, dict]] = []  # (paragraph, borrowed positive row)
    for p in paragraphs:
        others = [r for r in kept if r["context_id"] != p["context_id"] and r["answers"][0]["text"].lower() not in p["context"].lower()]
        rng.shuffle(others)
        proposals += [(p, r) for r in others[:3]]
    rng.shuffle(proposals)
    accepted = 0
    while proposals and accepted < target:
        n = (target - accepted) * (2 if engine is not None else 1)  # expect about half to be rejected by the reader
        chunk, proposals = proposals[:n], proposals[n:]
        verdicts: list[Verdict | None] = [None] * len(chunk)
        if engine is not None:
            verdicts = ask(engine, [r["question"] for _, r in chunk], [p["context"] for p, _ in chunk], [""] * len(chunk), cfg.batch_size, progress=False)
        for (p, r), v in zip(chunk, verdicts):
            prov = _provenance(p, kind="negative", question=r["question"], from_context_id=r["context_id"],
                               candidate_type="borrowed_question", generator="negative")
            if v is not None:
                prov |= {"pred_text": v.pred_text, "confidence": v.confidence}
            result.counts["negatives_proposed"] += 1
            if accepted >= target:
                result.counts["negatives_unused"] += 1
                result.provenance.append(prov | {"reason": "not needed: the negative ratio was reached"})
                continue
            if v is not None and v.confidence >= cfg.negative_max_confidence:
                result.counts["negatives_rejected"] += 1
                result.provenance.append(prov | {"reason": f"the reader finds an answer here (confidence {v.confidence:.2f})"})
                continue
            rid = _id("neg", p["context_id"], r["question"])
            result.rows.append(_qa_row(p, rid, r["question"], []))
            result.provenance.append(prov | {"id": rid, "kept": True})
            accepted += 1
    result.counts["negatives"] = accepted


def synthesize(paragraphs: list[dict], cfg: SynthConfig, generator: QuestionGenerator, engine: QAEngine | None,
               nlp=None) -> SynthResult:
    """All synthetic rows of one domain's paragraphs. Deterministic for a seed: spaCy, greedy generation
    and the reader are deterministic, and the only sampling (negatives) is seeded."""
    paragraphs = sorted(paragraphs, key=lambda p: (p["context_id"], p["id"]))
    if cfg.max_paragraphs is not None:
        paragraphs = random.Random(cfg.seed).sample(paragraphs, min(cfg.max_paragraphs, len(paragraphs)))
        paragraphs.sort(key=lambda p: (p["context_id"], p["id"]))
    result = SynthResult([], [], [])
    result.counts["paragraphs"] = len(paragraphs)
    docs = parse(paragraphs, cfg, nlp)
    positives(paragraphs, docs, cfg, generator, engine, result)
    negatives(paragraphs, cfg, engine, result)
    c = result.counts
    assert c["candidates"] == c["kept"] + c["dropped_by_filter"] + c["quarantined"] + c["no_question"], f"counts do not reconcile: {dict(c)}"
    return result
