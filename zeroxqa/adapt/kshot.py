"""One cell of `zeroxqa adapt-eval`: adapt a reader to a domain from K labels and decide what to ship, as a
user holding only those K labels would, then report every reader on the domain's dev questions.

Readers in a cell: the base at its own threshold; the base with its threshold fitted to the domain
(`threshold.py`: no training); the base fine-tuned on the K labels, and that fine-tune's weights averaged
with the base's (WiSE-FT, `WISE_WEIGHT`: it keeps most of a fine-tune's gain and gives back most of its
variance), each at a threshold fitted to its out-of-fold scores. The decision (`decision.py`) sees the K labels alone, cross-fitted (`crossfit.py`): the fine-tune
of each fold is trained without it and scored on it, and every fitted threshold that judges a fold was fitted
on the other folds. The dev questions only report.
"""

from __future__ import annotations

import math
import time

from zeroxqa.adapt.crossfit import fold_of_each, out_of_fold
from zeroxqa.adapt.decision import BASE, Scored, decide
from zeroxqa.adapt.threshold import fit_to_evaluation
from zeroxqa.config import AdaptConfig, ReaderConfig

FINETUNE = "fine-tune"
WISE = "wise-ft"
WISE_WEIGHT = 0.5  # the fine-tune's share of the averaged weights
THRESHOLD = "threshold"
FOLDS = 4
DECISION_MAX = 256  # beyond this many labels, the decision judges one held-out fold instead of all of them


def per_question_f1(evaluation, threshold: float) -> list[float]:
    from zeroxqa.reader.metrics import score

    return [100.0 * score(g, a)[1] for g, a in zip(evaluation.golds, evaluation.answers(threshold))]


def has_answer(rows: list[dict]) -> list[bool]:
    from zeroxqa.reader.metrics import is_answerable

    return [is_answerable(r) for r in rows]


def subset(evaluation, idx: list[int]):
    from zeroxqa.reader.evaluate import Evaluation

    return Evaluation([evaluation.rows[i] for i in idx], [evaluation.spans[i] for i in idx], evaluation.threshold)


def cross_fitted_f1(card: dict, threshold: float, evaluation, folds: list[int]) -> list[float]:
    """Per-question F1 where each question is answered at a threshold fitted on the other folds' questions
    only (one fold: fitted on all of them)."""
    out = [0.0] * len(folds)
    names = sorted(set(folds))
    for f in names:
        held = [i for i, g in enumerate(folds) if g == f]
        rest = [i for i, g in enumerate(folds) if g != f] or held
        fitted = fit_to_evaluation(card, threshold, subset(evaluation, rest)).threshold
        for i, v in zip(held, per_question_f1(subset(evaluation, held), fitted)):
            out[i] = v
    return out


def dev_metrics(evaluation, threshold: float) -> dict:
    from zeroxqa.reader.evaluate import ALL

    m = next(m for m in evaluation.per_domain(threshold) if m["domain"] == ALL)
    return {"f1": m["f1"], "exact": m["exact"], "HasAns_f1": m["HasAns_f1"], "NoAns_f1": m["NoAns_f1"], "n": m["n"]}


def fine_tuned(source: str, rows: list[dict], cfg: AdaptConfig, reader_cfg: ReaderConfig):
    """A fresh copy of `source` fine-tuned on `rows` (the K-shot recipe)."""
    from zeroxqa.meta.inner import inner_adapt
    from zeroxqa.reader.model import load_reader
    from zeroxqa.reader.train import resolve_device

    reader = load_reader(source)
    reader.model.to(resolve_device(cfg.device))
    inner_adapt(reader.model, reader.tokenizer, rows, reader_cfg, cfg.steps(len(rows)), cfg.learning_rate,
                cfg.batch_size, cfg.seed)
    return reader


def recipe_evaluations(reader, base_reader, rows: list[dict], reader_cfg: ReaderConfig) -> dict:
    """{recipe: Evaluation on rows} for the fine-tuned `reader` and its WiSE-FT average with `base_reader`
    (the average is made in place, after the fine-tune is scored)."""
    from zeroxqa.adapt.average import average_readers
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.evaluate import evaluate

    out = {FINETUNE: evaluate(QAEngine.from_reader(reader, reader_cfg), rows)}
    base_reader.model.to(next(reader.model.parameters()).device)
    out[WISE] = evaluate(QAEngine.from_reader(average_readers(base_reader, reader, WISE_WEIGHT), reader_cfg), rows)
    return out


def adapt_and_decide(source: str, shots: list[dict], dev_rows: list[dict], cfg: AdaptConfig, reader_cfg: ReaderConfig,
                     base_dev=None) -> dict:
    """Every reader of the cell on the dev rows, and the decision made on the shots. `base_dev` is the base's
    evaluation on these dev rows when the caller has it (it does not depend on K or the seed)."""
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.evaluate import Evaluation, evaluate
    from zeroxqa.reader.model import load_reader

    started = time.perf_counter()
    base_reader = load_reader(source)
    card = base_reader.card
    base = QAEngine.from_reader(base_reader, reader_cfg)
    base_dev = base_dev or evaluate(base, dev_rows)
    base_shots = evaluate(base, shots) if shots else Evaluation([], [], base.threshold)
    fitted = fit_to_evaluation(card, base.threshold, base_shots)
    out = {"shots": len(shots), "steps": cfg.steps(len(shots)) if shots else 0, "base_threshold": base.threshold,
           "threshold": fitted.threshold, "unanswerable_share": fitted.share}
    dev_of = {BASE: dev_metrics(base_dev, base.threshold), THRESHOLD: dev_metrics(base_dev, fitted.threshold)}
    out.update({"abstain_f1": 100.0 * sum(not h for h in has_answer(dev_rows)) / max(len(dev_rows), 1),
                "base_f1": dev_of[BASE]["f1"], "base_HasAns_f1": dev_of[BASE]["HasAns_f1"],
                "threshold_f1": dev_of[THRESHOLD]["f1"], "threshold_HasAns_f1": dev_of[THRESHOLD]["HasAns_f1"]})
    decision, thresholds = decide_on_shots(source, card, base_reader, base_shots, cfg, reader_cfg)
    if shots:
        dev_evals = recipe_evaluations(fine_tuned(source, shots, cfg, reader_cfg), base_reader, dev_rows, reader_cfg)
        for recipe, ev in dev_evals.items():
            dev_of[recipe] = dev_metrics(ev, thresholds.get(recipe, fitted.threshold))
        out.update({k: dev_of[FINETUNE][k] for k in ("n", "exact", "f1", "HasAns_f1", "NoAns_f1")},
                   finetune_threshold=thresholds.get(FINETUNE), span_f1=dev_metrics(dev_evals[FINETUNE], math.inf)["HasAns_f1"],
                   wise_f1=dev_of[WISE]["f1"], wise_HasAns_f1=dev_of[WISE]["HasAns_f1"])
    shipped = dev_of[decision.shipped]
    out.update({"shipped": decision.shipped, "shipped_f1": shipped["f1"], "shipped_HasAns_f1": shipped["HasAns_f1"],
                "shipped_gain": shipped["f1"] - dev_of[BASE]["f1"], "decision": decision.reason,
                "needs_more_labels": decision.needs_more_labels, "seconds": time.perf_counter() - started})
    return out


def decide_on_shots(source: str, card: dict, base_reader, base_shots, cfg: AdaptConfig, reader_cfg: ReaderConfig):
    """(the decision a user with these K labels can make, {recipe: threshold fitted on its out-of-fold
    scores}): base, base + fitted threshold, the fine-tune or its WiSE-FT average, all judged out of fold."""
    from zeroxqa.reader.evaluate import Evaluation

    shots, base_threshold = base_shots.rows, base_shots.threshold
    if not shots:
        return decide([], Scored(BASE, [], [])), {}
    answerable = has_answer(shots)
    n_folds = min(FOLDS, len({r["context"] for r in shots}))
    if n_folds < 2:
        return decide([], Scored(BASE, per_question_f1(base_shots, base_threshold), answerable)), {}
    folds = fold_of_each(shots, n_folds, cfg.seed)
    only = 1 if len(shots) > DECISION_MAX else None

    def fit(train_rows):
        return fine_tuned(source, train_rows, cfg, reader_cfg)

    def predict(reader, held):
        evals = recipe_evaluations(reader, base_reader, held, reader_cfg)
        return list(zip(*(evals[r].spans for r in (FINETUNE, WISE))))

    spans = out_of_fold(shots, n_folds, fit, predict, seed=cfg.seed, only_folds=only)
    judged = [i for i, s in enumerate(spans) if s is not None]
    judged_folds = [folds[i] for i in judged]
    base_judged = subset(base_shots, judged)
    has = [answerable[i] for i in judged]
    oof = {recipe: Evaluation([shots[i] for i in judged], [spans[i][j] for i in judged], base_threshold)
           for j, recipe in enumerate((FINETUNE, WISE))}
    thresholds = {recipe: fit_to_evaluation(card, base_threshold, ev).threshold for recipe, ev in oof.items()}
    if only:  # one fold judged: thresholds fitted on the base's other folds, or on the recipe's only out-of-fold scores
        rest = [i for i, g in enumerate(folds) if g not in set(judged_folds)]
        t_base = fit_to_evaluation(card, base_threshold, subset(base_shots, rest)).threshold
        candidates = [Scored(THRESHOLD, per_question_f1(base_judged, t_base), has)]
        candidates += [Scored(r, per_question_f1(ev, thresholds[r]), has) for r, ev in oof.items()]
    else:
        candidates = [Scored(THRESHOLD, cross_fitted_f1(card, base_threshold, base_judged, judged_folds), has)]
        candidates += [Scored(r, cross_fitted_f1(card, base_threshold, ev, judged_folds), has) for r, ev in oof.items()]
    base = Scored(BASE, per_question_f1(base_judged, base_threshold), has)
    return decide(candidates, base, seed=cfg.seed), thresholds
