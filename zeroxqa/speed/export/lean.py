"""Lean forms of models for processes that must not import torch (the server, `ask`, `answer`): a reader
as ONNX int8 with its `tokenizer.json`, the sentence encoder as ONNX with its tokenizer and pooling.

Made once per model content and CPU preset, in a child process (which imports torch; the caller never
does), and cached under `$ZEROXQA_CACHE` (default `~/.cache/zeroxqa`). A folder that already holds an
ONNX model with its `tokenizer.json` is its own lean form. Concurrent callers (several server workers)
make one export: a file lock beside the cache entry, an atomic folder write.

    python -m zeroxqa.speed.export.lean reader SRC OUT     # what `lean_reader` runs
    python -m zeroxqa.speed.export.lean encoder SRC OUT    # what `lean_encoder` runs
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from zeroxqa.retrieval.lean_encoder import ENCODER_CARD
PARITY_MIN_COSINE = 1 - 1e-3  # the lean encoder's vectors against sentence-transformers', on PARITY_TEXTS
PARITY_TEXTS = [
    "What is the refund window for online orders?",
    "Returns are accepted within 30 days of delivery with the original receipt.",
    "Who wrote the first law of thermodynamics?",
    "The Rhine flows from the Swiss Alps to the North Sea.",
    "We share your personal information with advertising partners only with your consent.",
    "How many people live in the city?",
    "a",
    "Ünïcödé, emoji 🙂 and punctuation: (yes) [no] {maybe}!",
    " ".join(["a long paragraph of words that goes past the encoder's maximum sequence length"] * 40),
]


class LeanExportError(RuntimeError):
    """The child process could not make a lean form (its last lines of output say why)."""


def cache_root() -> Path:
    return Path(os.environ.get("ZEROXQA_CACHE") or Path.home() / ".cache" / "zeroxqa")


def is_lean(folder: str | Path) -> bool:
    """An ONNX model with the tokenizer `tokenizers` reads: servable without torch."""
    folder = Path(folder)
    return (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file()


def _source_key(folder: Path, extra: str) -> str:
    """What a lean form depends on: the source's files (their content hashes, cached by stat) and `extra`."""
    import hashlib

    from zeroxqa.registry.hashing import content_hash

    return hashlib.sha256(f"{content_hash(folder)}\n{extra}".encode()).hexdigest()[:24]


def _made(kind: str, src: Path, out: Path) -> Path:
    """`out`, exported from `src` by a child process unless it is there already."""
    from filelock import FileLock

    marker = out / ("model.onnx" if kind == "reader" else ENCODER_CARD)
    if marker.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{out}.lock"):
        if marker.is_file():  # another process made it while this one waited
            return out
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        done = subprocess.run([sys.executable, "-m", "zeroxqa.speed.export.lean", kind, str(src), str(out)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0 or not marker.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise LeanExportError(f"could not make the lean {kind} of {src} (exit {done.returncode}):\n{tail}")
    return out


def lean_reader(model: str | Path) -> Path:
    """The folder to serve reader `model` from without torch: itself when it is ONNX with a `tokenizer.json`,
    else its ONNX int8 export (this CPU's quantization preset), made once and cached."""
    from zeroxqa.reader.paths import resolve_model_path
    from zeroxqa.speed.export.cpu import quantization_preset

    src = Path(resolve_model_path(model))
    if is_lean(src):
        return src
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such model folder (a hub id is exported by `zeroxqa export` first)")
    preset = quantization_preset()
    return _made("reader", src, cache_root() / "readers" / f"{_source_key(src, 'int8-' + preset)}-int8-{preset}")


def lean_encoder(name: str) -> Path:
    """The folder of the sentence encoder `name` ('minilm', a folder) as ONNX fp32 with its tokenizer and
    pooling, its vectors checked against sentence-transformers' when it was made; cached."""
    from zeroxqa.reader.paths import resolve_model_path

    src = Path(resolve_model_path(name))
    if (src / ENCODER_CARD).is_file():
        return src
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such sentence encoder folder")
    return _made("encoder", src, cache_root() / "encoders" / f"{_source_key(src, 'fp32')}-fp32")


# --- the child process ------------------------------------------------------------------------------
def export_reader(src: Path, out: Path) -> None:
    import tempfile

    from zeroxqa.speed.export.onnx import export_onnx, quantize_int8

    with tempfile.TemporaryDirectory() as work:
        fp32 = export_onnx(src, Path(work) / "fp32")
        quantize_int8(fp32, out)


def export_encoder(src: Path, out: Path) -> None:
    """ONNX of the transformer (last hidden state); mean pooling and the unit norm are done in numpy by
    `zeroxqa.retrieval.encoder.LeanEncoder`, which is checked here against sentence-transformers."""
    import shutil
    import tempfile
    import warnings

    import numpy as np
    import torch
    from optimum.onnxruntime import ORTModelForFeatureExtraction
    from sentence_transformers import SentenceTransformer

    from zeroxqa.quiet import quiet_libraries
    from zeroxqa.registry.atomic import atomic_dir
    from zeroxqa.retrieval.lean_encoder import LeanEncoder

    reference = SentenceTransformer(str(src), device="cpu")
    pooling = [m for m in reference if type(m).__name__ == "Pooling"]
    if pooling and getattr(pooling[0], "pooling_mode_mean_tokens", True) is not True:
        raise ValueError(f"{src}: only mean pooling has a lean form (this encoder pools otherwise)")
    normalized = any(type(m).__name__ == "Normalize" for m in reference)
    with tempfile.TemporaryDirectory() as work, warnings.catch_warnings(), quiet_libraries(), atomic_dir(out) as tmp:
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        ORTModelForFeatureExtraction.from_pretrained(str(src), export=True).save_pretrained(work)
        shutil.copyfile(Path(work) / "model.onnx", tmp / "model.onnx")
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json"):
            if (src / name).exists():
                shutil.copyfile(src / name, tmp / name)
        card = {"source": str(src), "max_seq_length": int(reference.get_max_seq_length() or 512), "pooling": "mean",
                "normalize": normalized}
        (tmp / ENCODER_CARD).write_text(json.dumps(card, indent=2) + "\n")
        expected = reference.encode(PARITY_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
        got = LeanEncoder(tmp).encode(PARITY_TEXTS)
        cosine = float(np.min(np.sum(expected * got, axis=1)))
        if cosine < PARITY_MIN_COSINE:
            raise ValueError(f"{src}: the ONNX encoder's vectors differ from sentence-transformers' (min cosine {cosine:.6f})")
        card["parity"] = {"texts": len(PARITY_TEXTS), "min_cosine": cosine}
        (tmp / ENCODER_CARD).write_text(json.dumps(card, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    kind, src, out = (argv or sys.argv[1:])[:3]
    {"reader": export_reader, "encoder": export_encoder}[kind](Path(src), Path(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
