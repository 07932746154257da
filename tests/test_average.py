"""`zeroxqa average`: the weights of two readers interpolated (how the reference reader's last stage ships)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from typer.testing import CliRunner

from zeroxqa.adapt.average import average_readers
from zeroxqa.cli import app
from zeroxqa.reader.model import CARD_FILE, load_reader, save_reader


def further_trained(reader):
    """A copy of `reader` whose encoder and head moved, its word embeddings left alone (frozen, as in training)."""
    other = copy.deepcopy(reader)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in other.model.named_parameters():
            if "word_embeddings" not in name:
                p.add_(0.1 * torch.randn_like(p))
    return other


def test_average_interpolates_every_weight_and_keeps_shared_tensors_exact(tiny_reader):
    first, second = tiny_reader, further_trained(tiny_reader)
    a, b = ({k: v.clone() for k, v in r.model.state_dict().items()} for r in (first, second))
    merged = average_readers(first, copy.deepcopy(second), 0.3).model.state_dict()
    for name, t in merged.items():
        if "word_embeddings" in name or not t.is_floating_point():
            assert torch.equal(t, b[name]), name  # bit for bit, so a compact reader still finds the base's tensors
        else:
            assert torch.allclose(t, 0.7 * a[name] + 0.3 * b[name], atol=1e-6), name
    assert any(not torch.equal(merged[k], b[k]) for k in merged)
    ends = [average_readers(first, copy.deepcopy(second), w).model.state_dict() for w in (0.0, 1.0)]
    assert all(torch.equal(ends[0][k], a[k]) and torch.equal(ends[1][k], b[k]) for k in a)


def test_average_refuses_readers_of_other_shapes_and_bad_weights(tiny_reader):
    from transformers import BertConfig, BertForQuestionAnswering

    from zeroxqa.reader.model import Reader

    wider = Reader(BertForQuestionAnswering(BertConfig(vocab_size=tiny_reader.tokenizer.vocab_size, hidden_size=48,
                                                       num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)),
                   tiny_reader.tokenizer)
    with pytest.raises(ValueError, match="architecture"):
        average_readers(tiny_reader, wider, 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        average_readers(tiny_reader, copy.deepcopy(tiny_reader), 1.5)


def test_cli_average_writes_a_reader_marked_uncalibrated(tiny_reader, tmp_path):
    first = save_reader(tiny_reader, tmp_path / "first")
    second = save_reader(further_trained(tiny_reader), tmp_path / "second")
    result = CliRunner().invoke(app, ["average", str(first), str(second), "--out", str(tmp_path / "avg")])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "avg" / CARD_FILE).read_text())
    assert card["averaged"] == {"first": str(first), "second": str(second), "weight": 0.5}
    assert card["threshold_calibrated"] is False
    averaged = load_reader(tmp_path / "avg").model.state_dict()
    a, b = load_reader(first).model.state_dict(), load_reader(second).model.state_dict()
    name = "qa_outputs.weight"
    assert torch.allclose(averaged[name], (a[name] + b[name]) / 2, atol=1e-6)
    missing = CliRunner().invoke(app, ["average", str(first), str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2
