"""The compact form a reader ships in (no base tensors, fp16), on a tiny BERT with its own 'base' folder."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from zeroxqa.config import TrainConfig
from zeroxqa.reader.engine import QAEngine
from zeroxqa.reader.model import CARD_FILE, load_reader, save_reader
from zeroxqa.reader.reference import pack_reader

from helpers import ROWS, SMALL


@pytest.fixture
def tiny_base(tokenizer, tmp_path):
    """A tiny encoder saved like the base package's (keys without the `bert.` prefix) and its tokenizer."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(1)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(tmp_path / "base", safe_serialization=True)
    tokenizer.save_pretrained(tmp_path / "base")
    return tmp_path / "base"


def test_compact_reader_leaves_out_the_base_tensors_and_loads_back(tiny_base, tmp_path):
    from zeroxqa.reader.train import train_reader

    cfg = TrainConfig(epochs=2, batch_size=2, learning_rate=1e-3, freeze_embeddings=True, seed=0)
    train_reader(load_reader(tiny_base), ROWS, ROWS, tmp_path / "trained", SMALL, cfg)
    pack_reader(tmp_path / "trained", tmp_path / "compact", base=str(tiny_base))

    stored = load_file(tmp_path / "compact" / "model.safetensors")
    assert "bert.embeddings.word_embeddings.weight" not in stored
    assert all(t.dtype == torch.float16 for t in stored.values() if t.is_floating_point())
    card = json.loads((tmp_path / "compact" / CARD_FILE).read_text())
    assert "bert.embeddings.word_embeddings.weight" in card["weights_from_base"]["tensors"]
    assert not (tmp_path / "compact" / "tokenizer.json").exists()  # taken from the base

    full, compact = load_reader(tmp_path / "trained"), load_reader(tmp_path / "compact")
    a, b = full.model.state_dict(), compact.model.state_dict()
    assert set(a) == set(b)
    assert torch.equal(a["bert.embeddings.word_embeddings.weight"], b["bert.embeddings.word_embeddings.weight"])
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-2, rtol=1e-3) for k in a)
    assert compact.null_threshold == full.null_threshold
    questions, contexts = [r["question"] for r in ROWS], [r["context"] for r in ROWS]
    assert [s.text for s in QAEngine.load(tmp_path / "compact").spans(questions, contexts)] == \
           [s.text for s in QAEngine.load(tmp_path / "trained").spans(questions, contexts)]

    # Hugging Face tools (the pipeline of the benchmark, optimum's export) get a whole copy
    from transformers import AutoTokenizer, BertForQuestionAnswering

    from zeroxqa.reader.reference import whole_reader_dir

    assert whole_reader_dir(tmp_path / "trained", tmp_path / "unused") == tmp_path / "trained"
    whole = whole_reader_dir(tmp_path / "compact", tmp_path / "whole")
    assert torch.equal(BertForQuestionAnswering.from_pretrained(whole).bert.embeddings.word_embeddings.weight,
                       a["bert.embeddings.word_embeddings.weight"])
    assert AutoTokenizer.from_pretrained(whole).is_fast

    # saved again (e.g. after fine-tuning from it) a compact reader is written whole
    save_reader(compact, tmp_path / "resaved")
    assert "weights_from_base" not in json.loads((tmp_path / "resaved" / CARD_FILE).read_text())
    assert "bert.embeddings.word_embeddings.weight" in load_file(tmp_path / "resaved" / "model.safetensors")


def test_a_reader_trained_with_unfrozen_embeddings_is_not_packed(tiny_base, tmp_path):
    from zeroxqa.reader.train import train_reader

    cfg = TrainConfig(epochs=1, batch_size=2, learning_rate=1e-2, seed=0)
    reader = load_reader(tiny_base)
    with torch.no_grad():
        for p in reader.model.bert.embeddings.parameters():
            p.add_(0.01)  # every embedding differs from the base
    train_reader(reader, ROWS, [], tmp_path / "trained", SMALL, cfg)
    with pytest.raises(ValueError, match="freeze-embeddings"):
        pack_reader(tmp_path / "trained", tmp_path / "compact", base=str(tiny_base))
