"""The official SQuAD v1.1 / v2.0 evaluation semantics: normalised exact match and token F1, each the
maximum over the gold answers; an unanswerable question's only gold answer is "". Plus the SQuAD 2.0
best-F1 threshold search that calibrates the no-answer decision."""

from __future__ import annotations

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower case, drop punctuation and articles, fold white space (as the official script does)."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def exact(gold: str, pred: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(pred))


def f1(gold: str, pred: str) -> float:
    gold_toks, pred_toks = normalize_answer(gold).split(), normalize_answer(pred).split()
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)  # no-answer: right only if both are empty
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def is_answerable(row: dict) -> bool:
    """A canonical row with an answer: not marked impossible and holding at least one answer span."""
    return not row["is_impossible"] and bool(row["answers"])


def gold_texts(answers: list[dict]) -> list[str]:
    """The golds of a question: its answer texts, or [""] when it has none. Golds that normalise to
    nothing count as no answer, like the official script."""
    texts = [a["text"] for a in answers if normalize_answer(a["text"])]
    return texts or [""]


def score(golds: list[str], pred: str) -> tuple[int, float]:
    return max(exact(g, pred) for g in golds), max(f1(g, pred) for g in golds)


def squad_metrics(golds: list[list[str]], preds: list[str]) -> dict[str, float]:
    """EM and F1 (0-100) overall and for HasAns / NoAns questions, with their counts."""
    rows = [(g != [""], *score(g, p)) for g, p in zip(golds, preds)]

    def avg(xs: list[float]) -> float:
        return 100.0 * sum(xs) / len(xs) if xs else float("nan")

    out = {"n": len(rows), "exact": avg([r[1] for r in rows]), "f1": avg([r[2] for r in rows])}
    for name, flag in (("HasAns", True), ("NoAns", False)):
        sub = [r for r in rows if r[0] == flag]
        out.update({f"{name}_n": len(sub), f"{name}_exact": avg([r[1] for r in sub]), f"{name}_f1": avg([r[2] for r in sub])})
    return out


def best_f1_threshold(golds: list[list[str]], span_preds: list[str], na_scores: list[float]) -> tuple[float, float]:
    """The no-answer threshold that maximises F1 (the SQuAD 2.0 script's `find_best_thresh`).

    Start with every question answered "no answer", then switch questions to their best span in order of
    increasing na_score; the threshold lies where F1 peaks. Returns (best F1, threshold).
    """
    has_ans = [g != [""] for g in golds]
    span_f1 = [score(g, p)[1] for g, p in zip(golds, span_preds)]
    order = sorted(range(len(golds)), key=lambda i: na_scores[i])
    cur = best = float(sum(not h for h in has_ans))
    best_at = -1  # position in `order` of the last question answered; -1: none
    for pos, i in enumerate(order):
        if has_ans[i]:
            cur += span_f1[i]
        elif span_preds[i]:
            cur -= 1
        if cur > best:
            best, best_at = cur, pos
    # The official script returns the boundary score itself; halfway to the next score gives the same F1
    # here and does not flip a question on the boundary when another runtime (ONNX, int8) moves it a hair.
    scores = [na_scores[i] for i in order]
    below = scores[best_at] if best_at >= 0 else (scores[0] - 2.0 if scores else -1.0)
    above = scores[best_at + 1] if best_at + 1 < len(scores) else below + 2.0
    return 100.0 * best / max(len(golds), 1), float((below + above) / 2)
