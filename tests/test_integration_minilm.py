"""The real packaged MiniLM weights: offline loading, the QA head, save and reload."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from zeroxqa.config import ReaderConfig
from zeroxqa.reader.model import load_reader, resolve_model_path, save_reader
from zeroxqa.reader.engine import QAEngine

pytestmark = pytest.mark.integration


def test_minilm_loads_offline_with_its_encoder_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reader = load_reader("minilm")
    assert reader.model.config.hidden_size == 384 and reader.model.config.num_hidden_layers == 6
    assert 22_000_000 < sum(p.numel() for p in reader.model.parameters()) < 23_000_000
    packaged = load_file(f"{resolve_model_path('minilm')}/model.safetensors")
    key = next(k for k in packaged if k.endswith("embeddings.word_embeddings.weight"))
    assert torch.equal(reader.model.bert.embeddings.word_embeddings.weight, packaged[key])

    context = "The Normans gave their name to Normandy, a region in France."
    (span,) = QAEngine.from_reader(reader, ReaderConfig()).spans(["Where is Normandy?"], [context])
    assert span.text == context[span.start : span.start + len(span.text)] and span.text

    reader.card["null_threshold"] = 0.5
    save_reader(reader, tmp_path / "r")
    again = load_reader(tmp_path / "r")
    (span2,) = QAEngine.load(tmp_path / "r").spans(["Where is Normandy?"], [context])
    assert again.null_threshold == 0.5 and span2.text == span.text
    assert span2.score == pytest.approx(span.score, abs=1e-4)
