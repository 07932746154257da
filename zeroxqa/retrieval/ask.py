"""Answering a question of a domain: retrieve its top paragraphs, read each with the domain's reader, and
answer from the paragraph the reader is surest of, or say "no answer" when none clears the reader's
calibrated no-answer threshold (the same rule as reading one paragraph)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from zeroxqa.reader.decode import SpanPrediction, confidence
from zeroxqa.reader.engine import QAEngine
from zeroxqa.retrieval.index import DomainIndex, Hit


@dataclass
class ReadParagraph:
    """A retrieved paragraph and what the reader found in it (`answer` "" when it abstains there)."""

    context_id: str
    context: str
    retrieval_score: float
    answer: str
    start: int
    end: int
    span_score: float  # start + end logit of the best span
    na_score: float
    confidence: float
    similarity: float | None = None  # cosine of question and paragraph (dense retrieval)
    bm25: float | None = None


@dataclass
class DomainAnswer:
    question: str
    answer: str  # "" = no answer
    context_id: str | None
    start: int  # character offsets of the answer in its paragraph (-1 when none)
    end: int
    confidence: float  # of the chosen paragraph's span: sigmoid(threshold - na_score); >= 0.5 means answered
    paragraphs: list[ReadParagraph] = field(default_factory=list)
    retrieve_ms: float = 0.0
    read_ms: float = 0.0

    @property
    def answered(self) -> bool:
        return bool(self.answer)

    def to_dict(self) -> dict:
        return asdict(self)


def reading(context_id: str, context: str, retrieval_score: float, span: SpanPrediction, threshold: float,
            hit: Hit | None = None) -> ReadParagraph:
    """What the reader's best span in one retrieved paragraph amounts to under its threshold."""
    start = span.start if span.text else -1
    return ReadParagraph(context_id, context, retrieval_score, span.answer(threshold), start,
                         start + len(span.text) if span.text else -1, span.score, span.na_score,
                         confidence(span.na_score, threshold), hit.dense if hit else None, hit.bm25 if hit else None)


def read_hits(engine: QAEngine, question: str, hits: list[Hit], batch_size: int = 1) -> list[ReadParagraph]:
    """Read every retrieved paragraph, one window at a time: padding a few windows of different lengths
    into one batch cost more than it saved (3 SQuAD paragraphs, 4 windows: 78 ms batched, 45 ms one by one,
    int8, 1 thread, AVX-512 VNNI)."""
    spans = engine.spans([question] * len(hits), [h.context for h in hits], batch_size) if hits else []
    return [reading(h.context_id, h.context, h.score, span, engine.threshold, h) for h, span in zip(hits, spans)]


def read_paragraph(engine: QAEngine, question: str, context: str) -> ReadParagraph:
    """Read one given paragraph (no retrieval)."""
    [span] = engine.spans([question], [context])
    return reading("", context, 0.0, span, engine.threshold)


def choose(question: str, read: list[ReadParagraph], by: str = "confidence") -> DomainAnswer:
    """The answer of the paragraph with the most confident span (or the highest span score, `by="span"`);
    none when that paragraph's reading abstains."""
    # the margin itself, not its sigmoid: a confident reader saturates the sigmoid at 1.0 in several paragraphs
    key = (lambda r: -r.na_score) if by == "confidence" else (lambda r: r.span_score)
    best = max((r for r in read if r.start >= 0), key=key, default=None)
    if best is None or not best.answer:
        return DomainAnswer(question, "", None, -1, -1, best.confidence if best else 0.0, read)
    return DomainAnswer(question, best.answer, best.context_id, best.start, best.end, best.confidence, read)


def ask(index: DomainIndex, engine: QAEngine, question: str, top_k: int | None = None, method: str | None = None) -> DomainAnswer:
    """Retrieve, read, choose; with the time spent retrieving and reading."""
    t0 = time.perf_counter()
    hits = index.search(question, top_k, method)
    t1 = time.perf_counter()
    result = choose(question, read_hits(engine, question, hits), index.cfg.choose)
    result.retrieve_ms, result.read_ms = (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3
    return result
