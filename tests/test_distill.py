"""Distillation: the student starts as a thinned copy of the teacher, learns its soft targets, and is a reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zeroxqa.config import DistillConfig, TrainConfig
from zeroxqa.speed.distill import DistillationLoss, soft_cross_entropy, spread_layers, student_from_teacher

from helpers import ROWS, SMALL, train_tiny_reader


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    """A tiny 4-layer reader trained to answer ROWS, saved like any reader."""
    return train_tiny_reader(tmp_path_factory.mktemp("teacher") / "reader", layers=4)


def test_student_layers_are_spread_out_and_end_with_the_last():
    assert spread_layers(6, 3) == [1, 3, 5] and spread_layers(6, 2) == [2, 5] and spread_layers(6, 6) == list(range(6))
    assert spread_layers(6, 1) == [5]
    with pytest.raises(ValueError):
        spread_layers(6, 7)


def test_the_student_is_a_thinned_copy_of_the_teacher(teacher_dir):
    from zeroxqa.reader.model import load_reader

    teacher = load_reader(teacher_dir)
    student = student_from_teacher(teacher, [1, 3])
    t, s = teacher.model.state_dict(), student.model.state_dict()
    assert student.model.config.num_hidden_layers == 2 and len(s) < len(t)
    for i, kept in enumerate([1, 3]):
        w = "bert.encoder.layer.{}.attention.self.query.weight"
        assert torch.equal(s[w.format(i)], t[w.format(kept)])
    assert torch.equal(s["qa_outputs.weight"], t["qa_outputs.weight"])
    assert torch.equal(s["bert.embeddings.word_embeddings.weight"], t["bert.embeddings.word_embeddings.weight"])
    whole = student_from_teacher(teacher, [0, 1, 2, 3])  # every layer: the teacher itself
    batch = teacher.tokenizer(["Where was Alice born?"], ["Alice was born in Paris."], return_tensors="pt")
    teacher.model.eval(), whole.model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(whole.model(**batch).start_logits, teacher.model(**batch).start_logits, atol=1e-6)


def test_soft_targets_ignore_padding_and_vanish_when_the_student_agrees():
    torch.manual_seed(0)
    teacher, student = torch.randn(3, 10), torch.randn(3, 10)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[:, 7:] = False
    assert soft_cross_entropy(teacher, teacher, mask, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    loss = soft_cross_entropy(student, teacher, mask, 2.0)
    assert loss.item() > 0
    moved = student.clone()
    moved[:, 7:] += 100.0  # padded positions: no effect
    assert soft_cross_entropy(moved, teacher, mask, 2.0).item() == pytest.approx(loss.item())


def test_a_distilled_student_learns_the_teacher_and_overfits_a_tiny_set(teacher_dir, tmp_path):
    """On soft targets alone (alpha 1): the KL to the teacher falls and the student answers as the teacher does."""
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.model import load_reader
    from zeroxqa.reader.train import train_reader

    teacher = load_reader(teacher_dir)
    student = student_from_teacher(teacher, spread_layers(4, 1))
    loss = DistillationLoss(teacher.model, DistillConfig(layers=1, temperature=2.0, alpha=1.0))
    cfg = TrainConfig(epochs=40, batch_size=4, learning_rate=3e-3, warmup_ratio=0.0, seed=0, log_every=1)
    result = train_reader(student, ROWS, ROWS, tmp_path / "student", SMALL, cfg, loss_fn=loss)
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert all(not p.requires_grad for p in teacher.model.parameters())  # the teacher never moved
    questions, contexts = [r["question"] for r in ROWS], [r["context"] for r in ROWS]
    engine = QAEngine.load(tmp_path / "student")
    assert engine.answer(questions, contexts) == ["Paris", "Thames", "red", ""]


def test_cli_distill_writes_a_student_reader(teacher_dir, tmp_path):
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    shard([SourceSpec(SQUAD_THEMES)], tmp_path / "shards")
    runner = CliRunner()
    common = [str(tmp_path / "shards"), "--teacher", str(teacher_dir), "--max-steps", "2", "--batch-size", "4",
              "--max-length", "128", "--doc-stride", "32", "--domain", "Normans", "--threads", "1"]
    res = runner.invoke(app, ["distill", *common, "--layers", "2", "--out", str(tmp_path / "student")])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "student" / "zeroxqa_card.json").read_text())
    assert card["distilled_from"]["teacher_layers"] == [1, 3] and card["distilled_from"]["alpha"] == 0.5
    assert json.loads((tmp_path / "student" / "config.json").read_text())["num_hidden_layers"] == 2
    bad = runner.invoke(app, ["distill", *common, "--layers", "5", "--out", str(tmp_path / "s5")])
    assert bad.exit_code == 2 and "--layers" in bad.output
