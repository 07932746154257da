"""Content hashes of artifacts (Parquet shards, model folders) and the stage keys built from them.

A stage's key = its name + the content of its input artifacts + its config + the code version. Equal keys
mean equal work, so orchestration can cache on them, and a stage writes to a folder named by its key:
re-running an unchanged stage finds its output where it left it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import zeroxqa

DONE = "_SUCCESS"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def content_hash(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted, hidden files skipped)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: artifact not found")
    if path.is_file():
        return file_sha256(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(path).parts))
    listing = "\n".join(f"{f.relative_to(path)}\t{file_sha256(f)}" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def stage_key(stage: str, inputs: list[str | Path] | None = None, config: BaseModel | dict | None = None, **extra: Any) -> str:
    cfg = config.model_dump(mode="json") if isinstance(config, BaseModel) else (config or {})
    doc = {
        "stage": stage,
        "code": zeroxqa.__version__,
        "inputs": [content_hash(p) for p in inputs or []],
        "config": cfg,
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def stage_dir(root: str | Path, stage: str, key: str) -> Path:
    return Path(root) / stage / key[:16]


def is_done(folder: str | Path) -> bool:
    return (Path(folder) / DONE).exists()


def mark_done(folder: str | Path) -> None:
    (Path(folder) / DONE).write_text("ok\n")
