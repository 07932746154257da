"""Logits of windows -> answer spans of examples, with a calibrated no-answer decision.

For each example, every valid span of every window is scored at once (end after start, both in the
context, at most `max_answer_length` tokens; a span scores start + end logit) and the best one kept. The null score is the CLS
start + end logit (the lowest over the example's windows). The example answers "" when
`null_score - best_span_score > threshold`: the SQuAD 2.0 rule, with the threshold calibrated on dev data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zeroxqa.config import ReaderConfig
from zeroxqa.reader.features import Features


def confidence(na_score: float, threshold: float) -> float:
    """sigmoid(threshold - na_score), safe for the -1e9 'no valid span' score. 0.5 is exactly where the
    reader switches between answering and abstaining."""
    x = max(-60.0, min(60.0, threshold - na_score))
    return 1.0 / (1.0 + math.exp(-x))


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
    """One `SpanPrediction` per example, over all of its windows: the arg-max of the start x end score band
    of each window (vectorized), masked to context tokens, end >= start and `max_answer_length`."""
    best: list[SpanPrediction] = [SpanPrediction("", -1, -np.inf, np.inf) for _ in contexts]
    span = cfg.max_answer_length
    for w, ex in enumerate(features.example_index):
        offsets = features.offsets[w]
        n = min(len(offsets), len(start_logits[w]))
        starts, ends = np.asarray(start_logits[w][:n], dtype=np.float64), np.asarray(end_logits[w][:n], dtype=np.float64)
        pred = best[ex]
        pred.null_score = min(pred.null_score, float(starts[0] + ends[0]))
        in_context = np.fromiter((o is not None for o in offsets[:n]), dtype=bool, count=n)
        if not in_context.any():
            continue
        # band[s, k] = score of the span (s, s + k): start logit + end logit, -inf where it is not a valid span
        end_scores = np.where(in_context, ends, -np.inf)
        padded = np.concatenate([end_scores, np.full(span - 1, -np.inf)])
        band = np.lib.stride_tricks.sliding_window_view(padded, span)[:n] + np.where(in_context, starts, -np.inf)[:, None]
        s, k = np.unravel_index(int(np.argmax(band)), band.shape)
        score = float(band[s, k])
        if score > pred.score:
            a, b = offsets[s][0], offsets[s + k][1]
            pred.text, pred.start, pred.score = contexts[ex][a:b], a, score
    for pred in best:
        if pred.start < 0:  # no valid span anywhere: only "no answer" is possible
            pred.score = -1e9
    return best
