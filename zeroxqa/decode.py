"""Logits of windows -> answer spans of examples, with a calibrated no-answer decision.

For each example, the n-best starts and ends of every window are paired (end after start, both in the
context, at most `max_answer_length` tokens); a span scores start + end logit. The null score is the CLS
start + end logit (the lowest over the example's windows). The example answers "" when
`null_score - best_span_score > threshold`: the SQuAD 2.0 rule, with the threshold calibrated on dev data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeroxqa.config import ReaderConfig
from zeroxqa.features import Features


@dataclass
class SpanPrediction:
    text: str  # best non-null span ("" only if no valid span exists)
    start: int  # character offset of the span in the context (-1 when none)
    score: float  # start + end logit of the best span
    null_score: float  # CLS start + end logit

    @property
    def na_score(self) -> float:
        """How much more the model believes in "no answer" than in its best span."""
        return self.null_score - self.score

    def answer(self, threshold: float) -> str:
        return "" if self.na_score > threshold or not self.text else self.text


def best_spans(
    features: Features,
    start_logits: list[np.ndarray],
    end_logits: list[np.ndarray],
    contexts: list[str],
    cfg: ReaderConfig,
) -> list[SpanPrediction]:
    """One `SpanPrediction` per example, over all of its windows."""
    best: list[SpanPrediction] = [SpanPrediction("", -1, -np.inf, np.inf) for _ in contexts]
    for w, ex in enumerate(features.example_index):
        starts, ends, offsets = start_logits[w], end_logits[w], features.offsets[w]
        pred = best[ex]
        pred.null_score = min(pred.null_score, float(starts[0] + ends[0]))
        top_starts = np.argsort(starts)[::-1][: cfg.n_best]
        top_ends = np.argsort(ends)[::-1][: cfg.n_best]
        for s in top_starts:
            if s >= len(offsets) or offsets[s] is None:
                continue
            for e in top_ends:
                if e >= len(offsets) or offsets[e] is None or e < s or e - s + 1 > cfg.max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                if score > pred.score:
                    a, b = offsets[s][0], offsets[e][1]
                    pred.text, pred.start, pred.score = contexts[ex][a:b], a, score
    for pred in best:
        if pred.start < 0:  # no valid span anywhere: only "no answer" is possible
            pred.score = -1e9
    return best
