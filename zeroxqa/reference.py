"""The reference reader shipped inside the package, and the compact form it ships in.

A shipped reader leaves out what the base encoder's package already holds: the word embeddings (kept frozen
in training, so they are the base's own, bit for bit) and the tokenizer. The rest is stored in fp16
safetensors. Loading puts the two back together; the card names the base and the tensors taken from it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from zeroxqa.atomic import atomic_dir

REFERENCE_DIR = Path(__file__).parent / "data" / "readers" / "squad-minilm-l6"
REFERENCE_ALIASES = {"squad", "reference", "squad-minilm-l6"}
DEFAULT_READER = "squad"
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


def pack_reader(src: str | Path, out: str | Path, base: str = "minilm", dtype: str = "float16",
                card_extra: dict | None = None) -> Path:
    """Write the compact form of a saved reader: every tensor that equals the base's is left out (it must
    be the word embeddings at least, or the reader was trained with them unfrozen), the rest cast to
    `dtype`; config and card kept, tokenizer taken from the base."""
    import torch
    from safetensors.torch import load_file, save_file

    from zeroxqa.model import CARD_FILE, read_card, resolve_model_path

    src, dtype = Path(src), getattr(torch, dtype)
    state = load_file(src / WEIGHTS)
    base_dir = resolve_model_path(base)
    prefix = "bert."
    reused = []
    for name, t in base_tensors(base_dir, [n for n in state if n.startswith(prefix)], prefix).items():
        if name in state and state[name].shape == t.shape and torch.equal(state[name], t.to(state[name].dtype)):
            reused.append(name)
    if not reused:
        raise ValueError(f"{src}: no tensor equals the base's; train with --freeze-embeddings to ship it compactly")
    kept = {n: (t.to(dtype) if t.is_floating_point() else t).contiguous() for n, t in state.items() if n not in reused}
    card = {**read_card(src), **(card_extra or {}), FROM_BASE: {"base": base, "tensors": sorted(reused), "prefix": prefix,
                                                                "stored_dtype": str(dtype).removeprefix("torch.")}}
    with atomic_dir(out) as tmp:
        save_file(kept, tmp / WEIGHTS, metadata={"format": "pt"})
        shutil.copyfile(src / "config.json", tmp / "config.json")
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
    return Path(out)


def load_compact(path: str | Path, card: dict):
    """(model, tokenizer) of a compact reader: its tensors in fp32 plus the base's shared ones."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoTokenizer, BertForQuestionAnswering

    from zeroxqa.model import resolve_model_path

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


def whole_reader_dir(path: str | Path, work: str | Path) -> Path:
    """A folder that any Hugging Face tool can load: `path` itself, or for a compact reader a whole copy
    (base tensors and tokenizer put back) written to `work`."""
    from zeroxqa.model import load_reader, read_card, resolve_model_path, save_reader

    path = Path(resolve_model_path(path))
    if not is_compact(read_card(path)):
        return path
    return save_reader(load_reader(path), Path(work))
