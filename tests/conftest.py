from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def lean_cache(tmp_path_factory) -> Path:
    """Lean (ONNX) forms made by the tests go to a folder of this session, not the user's ~/.cache (and the
    servers the tests start in child processes inherit it)."""
    import os

    folder = tmp_path_factory.mktemp("lean-cache")
    os.environ["ZEROXQA_CACHE"] = str(folder)
    return folder


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from zeroxqa.reader.model import resolve_model_path

    return AutoTokenizer.from_pretrained(resolve_model_path("minilm"))


@pytest.fixture
def tiny_reader(tokenizer):
    """A tiny random BERT QA model with the real (fast) MiniLM tokenizer: fast enough for unit tests."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    from zeroxqa.reader.model import Reader

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    return Reader(BertForQuestionAnswering(config), tokenizer, {"base_model": "tiny-random"})


@pytest.fixture(scope="session")
def sample_rows(tmp_path_factory):
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import POLICY_SITES, SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    out = tmp_path_factory.mktemp("sample_shards")
    shard([SourceSpec(SQUAD_THEMES), SourceSpec(POLICY_SITES)], out)
    return load_rows([out])
