"""The reference reader shipped inside the package, and the compact form it ships in.

A shipped reader leaves out what the base encoder's package already holds: the word embeddings (kept frozen
in training, so they are the base's own, bit for bit) and the tokenizer. The rest is stored in fp16
safetensors. Loading puts the two back together; the card names the base and the tensors taken from it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from zeroxqa.reader.compact import FROM_BASE, WEIGHTS, base_tensors, is_compact, load_compact  # noqa: F401  (re-exported)
from zeroxqa.reader.paths import DEFAULT_READER, REFERENCE_ALIASES, REFERENCE_DIR  # noqa: F401  (re-exported)
from zeroxqa.registry.atomic import atomic_dir


def pack_reader(src: str | Path, out: str | Path, base: str = "minilm", dtype: str = "float16",
                card_extra: dict | None = None) -> Path:
    """Write the compact form of a saved reader: every tensor that equals the base's is left out (it must
    be the word embeddings at least, or the reader was trained with them unfrozen), the rest cast to
    `dtype`; config and card kept, tokenizer taken from the base."""
    import torch
    from safetensors.torch import load_file, save_file

    from zeroxqa.reader.model import CARD_FILE, read_card, resolve_model_path

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


def whole_reader_dir(path: str | Path, work: str | Path) -> Path:
    """A folder that any Hugging Face tool can load: `path` itself, or for a compact reader a whole copy
    (base tensors and tokenizer put back) written to `work`."""
    from zeroxqa.reader.model import load_reader, read_card, resolve_model_path, save_reader

    path = Path(resolve_model_path(path))
    if not is_compact(read_card(path)):
        return path
    return save_reader(load_reader(path), Path(work))
