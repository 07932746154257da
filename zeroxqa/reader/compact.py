"""The compact form a reader ships in: every tensor equal to the base encoder's (the frozen word
embeddings) is left out and read back from the base's package; the rest is fp16 safetensors. The card names
the base and the tensors taken from it (`FROM_BASE`). Loading needs torch; checking a card does not."""

from __future__ import annotations

from pathlib import Path

from zeroxqa.reader.paths import resolve_model_path

FROM_BASE = "weights_from_base"  # card key: {"base": name, "tensors": [...], "prefix": "bert."}
WEIGHTS = "model.safetensors"


def is_compact(card: dict) -> bool:
    return FROM_BASE in card


def base_tensors(base_dir: str | Path, names: list[str], prefix: str) -> dict:
    """Tensors of the base encoder's safetensors, under the reader's names (the base lacks the `bert.` prefix)."""
    from safetensors import safe_open

    out = {}
    with safe_open(str(Path(base_dir) / WEIGHTS), "pt") as f:
        keys = set(f.keys())
        for name in names:
            key = name[len(prefix):] if name.startswith(prefix) and name[len(prefix):] in keys else name
            out[name] = f.get_tensor(key)
    return out


def load_compact(path: str | Path, card: dict):
    """(model, tokenizer) of a compact reader: its tensors in fp32 plus the base's shared ones."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoTokenizer, BertForQuestionAnswering

    path, spec = Path(path), card[FROM_BASE]
    base_dir = resolve_model_path(spec["base"])
    state = {n: (t.float() if t.is_floating_point() else t) for n, t in load_file(path / WEIGHTS).items()}
    state.update(base_tensors(base_dir, spec["tensors"], spec["prefix"]))
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten; keep the caller's RNG as it was
        model = BertForQuestionAnswering(AutoConfig.from_pretrained(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"{path}: compact reader does not fit its config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    tokenizer_dir = path if (path / "tokenizer.json").exists() else base_dir
    return model.eval(), AutoTokenizer.from_pretrained(tokenizer_dir, use_fast=True)
