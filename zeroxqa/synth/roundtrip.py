"""The reader's verdicts that decide what synthetic data is kept: a generated question is kept when the
reader, asked it over its paragraph, finds the candidate answer (F1 at or above `min_f1`) with enough
confidence; a borrowed question is an unanswerable negative when the reader has little confidence in
any span. Confidence is sigmoid(threshold - (null score - best span score)): the margin of the reader's
own calibrated no-answer rule, so 0.5 is exactly where the reader switches between answering and not."""

from __future__ import annotations

from dataclasses import dataclass

from zeroxqa.reader.decode import confidence
from zeroxqa.reader.engine import QAEngine
from zeroxqa.reader.metrics import f1


@dataclass(frozen=True)
class Verdict:
    pred_text: str  # the reader's best span
    f1: float  # against the candidate answer ("" for negatives: 0)
    confidence: float


def ask(engine: QAEngine, questions: list[str], contexts: list[str], answers: list[str], batch_size: int, progress: bool = True) -> list[Verdict]:
    if not questions:
        return []
    spans = engine.spans(questions, contexts, batch_size=batch_size, progress=progress)
    return [Verdict(s.text, f1(a, s.text) if a else 0.0, confidence(s.na_score, engine.threshold)) for s, a in zip(spans, answers)]
