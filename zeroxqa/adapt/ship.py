"""What a domain ships after its fine-tune: the decision of `decision.py` on the domain's dev questions, with
the reader that ships written where the registry can point at it.

Readers compared on the same questions: the base the domain was adapted from (at its own threshold), the
base with its no-answer threshold fitted to the domain (`threshold.py`), and the adapted reader (the
benchmark's accepted variant, at its own threshold). A base that ships is copied into the stage folder (with
the fitted threshold in its card when that is what ships), so the registry entry is a folder of its own
whose content hash stays valid when the package is upgraded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from zeroxqa.adapt.decision import ALWAYS_ABSTAIN, BASE, Scored, decide, paired_bootstrap
from zeroxqa.adapt.crossfit import fold_of_each
from zeroxqa.adapt.kshot import FOLDS, THRESHOLD, cross_fitted_f1, has_answer, per_question_f1
from zeroxqa.adapt.threshold import fit_to_evaluation

ADAPTED = "adapted"


def questions_sha256(rows: list[dict]) -> str:
    """Which questions a decision was made on (their ids, in order): paired comparisons need the same ones."""
    return hashlib.sha256("\n".join(str(r["id"]) for r in rows).encode()).hexdigest()


def decide_for_domain(adapted: str, init: str, rows: list[dict], out: Path) -> dict:
    """The decision's fields for the flow's summary: `shipped`, `model` and `f1`/`exact` of what ships,
    `base_f1`, `threshold_f1`, `interval` (adapted - base), `decision` (why), `needs_more_labels`, and the
    per-question F1 of what ships (`f1_per_question`, for the registry's paired comparison later)."""
    from zeroxqa.reader.card import CARD_FILE, read_card
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.evaluate import ALL, evaluate
    from zeroxqa.reader.paths import resolve_model_path
    from zeroxqa.registry.atomic import atomic_dir

    init_dir = resolve_model_path(init)
    base_engine, adapted_engine = QAEngine.load(init_dir), QAEngine.load(adapted)
    base_eval, adapted_eval = evaluate(base_engine, rows), evaluate(adapted_engine, rows)
    card = read_card(init_dir)
    fitted = fit_to_evaluation(card, base_engine.threshold, base_eval)
    answerable = has_answer(rows)
    base = Scored(BASE, per_question_f1(base_eval, base_engine.threshold), answerable)
    # the fitted threshold is judged cross-fitted: each question at a threshold fitted on the other folds
    n_folds = min(FOLDS, len({r["context"] for r in rows}))
    folds = fold_of_each(rows, n_folds) if n_folds >= 2 else [0] * len(rows)
    candidates = [Scored(ADAPTED, per_question_f1(adapted_eval, adapted_engine.threshold), answerable),
                  Scored(THRESHOLD, cross_fitted_f1(card, base_engine.threshold, base_eval, folds), answerable)]
    decision = decide(candidates, base)
    evaluation, threshold = {ADAPTED: (adapted_eval, adapted_engine.threshold), BASE: (base_eval, base_engine.threshold),
                             THRESHOLD: (base_eval, fitted.threshold)}[decision.shipped]
    metrics = next(m for m in evaluation.per_domain(threshold) if m["domain"] == ALL) if rows else {"f1": 0.0, "exact": 0.0}
    model = adapted
    if decision.shipped != ADAPTED:  # the base ships: a folder of its own, with the fitted threshold if that ships
        model = str(out / "model")
        with atomic_dir(model) as tmp:
            shutil.copytree(init_dir, tmp, dirs_exist_ok=True)
            card = read_card(tmp)
            if decision.shipped == THRESHOLD:  # fitted on all the domain's questions
                card.update({"null_threshold": fitted.threshold, "domain_threshold": fitted.to_dict()})
            card["shipped_as"] = {"reader": decision.shipped, "from": init, "reason": decision.reason}
            (Path(tmp) / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
    interval = paired_bootstrap(candidates[0].f1, base.f1) if rows else None
    return {"shipped": decision.shipped, "model": model, "f1": metrics["f1"], "exact": metrics["exact"],
            "base_f1": decision.f1.get(BASE), "threshold_f1": decision.f1.get(THRESHOLD),
            "abstain_f1": decision.f1.get(ALWAYS_ABSTAIN),
            "interval": "" if interval is None else str(interval), "decision": decision.reason,
            "needs_more_labels": decision.needs_more_labels, "questions": len(rows),
            "questions_sha256": questions_sha256(rows),
            "f1_per_question": per_question_f1(evaluation, threshold),  # the folder that ships, at its own threshold
            "domain_threshold": fitted.to_dict()}
