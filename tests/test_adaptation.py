"""Adaptation you can trust (zeroxqa.adapt): the base is always a candidate, a threshold fitted to the domain,
cross-fitting that uses every label once."""

from __future__ import annotations

import json
import math

import pytest

from helpers import ROWS, SMALL, train_tiny_reader
from zeroxqa.adapt.crossfit import fold_of_each, out_of_fold
from zeroxqa.adapt.decision import BASE, MIN_LABELS, Scored, decide, paired_bootstrap
from zeroxqa.adapt.threshold import domain_threshold, logit, unanswerable_share


# --- the threshold -----------------------------------------------------------------------------------------

def test_no_labels_keep_the_calibrated_threshold_and_a_squad_like_domain_keeps_it_too():
    assert domain_threshold(-1.5, 0, 0).threshold == pytest.approx(-1.5)
    assert domain_threshold(-1.5, 500, 1000).threshold == pytest.approx(-1.5)  # half unanswerable, like SQuAD 2.0


def test_all_answerable_labels_move_the_threshold_toward_answering_more_with_more_labels():
    shifts = [domain_threshold(-1.5, 0, n).threshold + 1.5 for n in (4, 16, 64, 256)]
    assert shifts == sorted(shifts) and shifts[0] > 0
    assert shifts[1] == pytest.approx(logit(0.5) - logit(4 / 24))  # Beta prior: 8 pseudo-questions at 0.5
    # a domain mostly unanswerable moves the other way
    assert domain_threshold(-1.5, 60, 64).threshold < -1.5


def test_unanswerable_share_refuses_impossible_counts():
    with pytest.raises(ValueError):
        unanswerable_share(5, 4)


@pytest.mark.integration
def test_the_reference_reader_stops_abstaining_on_an_all_answerable_domain(sample_rows):
    """PolicyQA sites are all answerable: at its SQuAD 2.0 threshold the shipped reader abstains on many of
    them; at the threshold fitted on 64 of their labels it abstains far less and scores higher
    on the other questions."""
    from zeroxqa.adapt.threshold import fit_to_evaluation
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.evaluate import ALL, evaluate
    from zeroxqa.reader.model import read_card, resolve_model_path

    rows = sorted((r for r in sample_rows if r["domain"].endswith(".com")), key=lambda r: r["id"])
    assert rows and not any(r["is_impossible"] for r in rows)
    labels, held = rows[:64], rows[64:]
    engine = QAEngine.load("squad")
    fitted = fit_to_evaluation(read_card(resolve_model_path("squad")), engine.threshold, evaluate(engine, labels))
    ev = evaluate(engine, held)
    abstain = {t: sum(a == "" for a in ev.answers(t)) / len(held) for t in (engine.threshold, fitted.threshold)}
    f1 = {t: next(m for m in ev.per_domain(t) if m["domain"] == ALL)["f1"] for t in abstain}
    assert abstain[fitted.threshold] < abstain[engine.threshold] / 2 and abstain[fitted.threshold] < 0.2, abstain
    assert f1[fitted.threshold] > f1[engine.threshold]


# --- the decision ------------------------------------------------------------------------------------------

def scored(name: str, f1: list[float], has: list[bool] | None = None) -> Scored:
    return Scored(name, f1, has or [True] * len(f1))


def test_a_candidate_worse_than_the_base_is_not_shipped():
    base = scored(BASE, [80, 60, 70, 90, 50, 65, 75, 85] * 4)
    worse = scored("fine-tune", [60, 50, 70, 40, 30, 65, 55, 85] * 4)
    d = decide([worse], base)
    assert d.shipped == BASE and "not above zero" in d.reason and d.f1["fine-tune"] < d.f1[BASE]


def test_a_clearly_better_candidate_ships_and_a_noisy_gain_does_not():
    base = scored(BASE, [50.0] * 40)
    better = scored("fine-tune", [70.0] * 30 + [40.0] * 10)
    assert decide([better], base).shipped == "fine-tune"
    noisy = scored("fine-tune", [100.0, 0.0] * 20 + [100.0])  # mean +1.2 over the base, interval wide across zero
    assert decide([noisy], scored(BASE, [50.0] * 41)).shipped == BASE


def test_f1_bought_by_abstaining_is_not_shipped():
    """Half the questions unanswerable: a candidate that abstains on everything gains F1 on those and loses
    answerable ones; its HasAns F1 falls below the base's beyond noise."""
    has = [True, False] * 30
    base = scored(BASE, [60.0 if h else 0.0 for h in has], has)
    abstainer = scored("fine-tune", [0.0 if h else 100.0 for h in has], has)
    d = decide([abstainer], base)
    assert d.f1["fine-tune"] > d.f1[BASE] and d.shipped == BASE and "HasAns" in d.reason


def test_a_candidate_must_also_beat_the_current_model():
    base, current = scored(BASE, [40.0] * 40), scored("current", [70.0] * 40)
    assert decide([scored("fine-tune", [70.0] * 40)], base, current).shipped == "current"


@pytest.mark.parametrize("n", range(MIN_LABELS))
def test_too_few_labels_keep_the_base_with_a_reason(n):
    d = decide([scored("fine-tune", [100.0] * n)], scored(BASE, [0.0] * n))
    assert d.shipped == BASE and f"{n} labelled question" in d.reason


def test_a_domain_where_nothing_beats_abstaining_needs_more_labels():
    has = [False] * 18 + [True] * 2
    d = decide([], scored(BASE, [0.0] * 18 + [50.0, 50.0], has))
    assert d.needs_more_labels and d.f1["always abstain"] == 90.0


def test_paired_bootstrap_interval_holds_the_mean():
    iv = paired_bootstrap([3.0, 5.0, 4.0, 6.0] * 5, [1.0] * 20)
    assert iv.mean == pytest.approx(3.5) and 0 < iv.low <= iv.mean <= iv.high


# --- cross-fitting -----------------------------------------------------------------------------------------

def test_cross_fitting_uses_every_label_once_and_never_judges_a_model_on_its_training_rows():
    rows = [{"id": i, "context": f"paragraph {i // 3}"} for i in range(30)]  # 10 paragraphs, 3 questions each
    trained_on: list[set] = []

    def fit(train):
        trained_on.append({r["id"] for r in train})
        return len(trained_on) - 1

    def predict(model, held):
        assert not {r["id"] for r in held} & trained_on[model]
        return [(model, r["id"]) for r in held]

    out = out_of_fold(rows, 4, fit, predict, seed=1)
    assert [p[1] for p in out] == [r["id"] for r in rows]  # one prediction per row, in order
    assert len(trained_on) == 4
    for model, train in enumerate(trained_on):  # each row is trained on by all folds but its own
        assert len(train) + sum(p[0] == model for p in out) == len(rows)
    folds = fold_of_each(rows, 4, seed=1)
    by_paragraph = {}
    for r, f in zip(rows, folds):
        by_paragraph.setdefault(r["context"], set()).add(f)
    assert all(len(f) == 1 for f in by_paragraph.values())  # a paragraph's questions share their fold


def test_out_of_fold_with_one_fold_only_judges_that_fold():
    rows = [{"id": i, "context": str(i)} for i in range(8)]
    out = out_of_fold(rows, 4, lambda train: None, lambda m, held: [1] * len(held), only_folds=1)
    assert sum(p is not None for p in out) == 2


# --- the flows' decision on real readers -------------------------------------------------------------------

def shuffled_answers(rows: list[dict]) -> list[dict]:
    """A deliberately harmful training set: every answerable question points at its context's first word."""
    out = []
    for r in rows:
        if r["answers"]:
            first = r["context"].split()[0]
            r = {**r, "answers": [{"text": first, "start": 0}]}
        out.append(r)
    return out


def test_a_harmful_fine_tune_is_not_shipped_and_a_helpful_one_is(tmp_path):
    import torch

    from zeroxqa.adapt.ship import decide_for_domain
    from zeroxqa.config import TrainConfig
    from zeroxqa.reader.model import load_reader
    from zeroxqa.reader.train import train_reader

    good = train_tiny_reader(tmp_path / "good")  # answers ROWS
    torch.manual_seed(1)
    cfg = TrainConfig(epochs=40, batch_size=4, learning_rate=3e-3, warmup_ratio=0.0, seed=0)
    harmful = shuffled_answers(ROWS)
    train_reader(load_reader(good), harmful, harmful, tmp_path / "harmed", SMALL, cfg)
    rows = ROWS * 3  # the same questions under other ids: 12 paired questions
    rows = [{**r, "id": f"{r['id']}{i}"} for i, r in enumerate(rows)]

    harmed = decide_for_domain(str(tmp_path / "harmed"), str(good), rows, tmp_path / "d1")
    assert harmed["shipped"] != "adapted" and harmed["base_f1"] > harmed["f1_per_question"][0] - 100
    assert harmed["model"] == str(tmp_path / "d1" / "model")
    assert json.loads((tmp_path / "d1" / "model" / "zeroxqa_card.json").read_text())["shipped_as"]["from"] == str(good)

    # the positive control: the good reader adapted from a random one ships
    random_dir = tmp_path / "random"
    from transformers import BertConfig, BertForQuestionAnswering

    from zeroxqa.reader.model import Reader, save_reader

    torch.manual_seed(3)
    g = load_reader(good)
    config = BertConfig(**{**g.model.config.to_dict(), "architectures": None})
    save_reader(Reader(BertForQuestionAnswering(config), g.tokenizer, {"null_threshold": 0.0}), random_dir)
    helped = decide_for_domain(str(good), str(random_dir), rows, tmp_path / "d2")
    assert helped["shipped"] == "adapted" and helped["model"] == str(good), helped["decision"]
    for out in (harmed, helped):  # what the registry will compare against is the folder that ships, as it ships
        assert sum(out["f1_per_question"]) / len(rows) == pytest.approx(out["f1"])
    assert not math.isnan(helped["f1"]) and helped["f1"] > helped["base_f1"]


@pytest.mark.parametrize("n", [0, 1, 3])
def test_a_domain_with_0_to_3_labelled_questions_gets_the_base_with_a_reason(tmp_path, n):
    from zeroxqa.adapt.ship import decide_for_domain

    good = train_tiny_reader(tmp_path / "good")
    out = decide_for_domain(str(good), str(good), ROWS[:n], tmp_path / "decide")
    assert out["shipped"] == BASE and f"{n} labelled question" in out["decision"]
    assert (tmp_path / "decide" / "model" / "zeroxqa_card.json").exists()
