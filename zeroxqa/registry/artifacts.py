"""Content hashes of artifacts (Parquet shards, model folders) and the stage keys built from them.

A stage's key = its name + the content of its input artifacts + its config + the code version. Equal keys
mean equal work, so orchestration can cache on them, and a stage writes to a folder named by its key:
re-running an unchanged stage finds its output where it left it.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel

import zeroxqa
from zeroxqa.registry.hashing import content_hash, file_sha256  # noqa: F401  (re-exported)

DONE = "_SUCCESS"


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


SMALL_FILE = 1 << 20  # files up to this size are re-hashed on every check; larger ones on a deep check


def stage_files(folder: Path) -> list[Path]:
    """The files a stage wrote (hidden files and the done-marker left out)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != DONE
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def mark_done(folder: str | Path) -> None:
    """Mark a stage folder finished, recording the size and sha256 of every file it holds."""
    folder = Path(folder)
    files = {str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": file_sha256(p)} for p in stage_files(folder)}
    from zeroxqa.registry.atomic import write_json

    write_json({"files": files}, folder / DONE)


def verify_done(folder: str | Path, deep: bool = False) -> list[str]:
    """What no longer matches the done-marker of a stage folder: missing files, other sizes, and other
    contents of small files (of every file when `deep`). Empty when the folder is as the stage left it."""
    folder = Path(folder)
    try:
        files = json.loads((folder / DONE).read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return []  # a marker of an older version holds no listing: nothing to check against
    problems = []
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != meta["size"]:
            problems.append(f"{name} changed size ({meta['size']} -> {path.stat().st_size} bytes)")
        elif (deep or meta["size"] <= SMALL_FILE) and file_sha256(path) != meta["sha256"]:
            problems.append(f"{name} changed content (sha256)")
    return problems


@contextmanager
def stage_lock(folder: str | Path) -> Iterator[None]:
    """Held while a stage computes its folder (a hidden `.lock` file beside it): a second runner of the same
    stage, in another process or another flow run on the same root, waits, then finds the folder done and
    reuses it instead of computing it again or writing into it at the same time."""
    from filelock import FileLock

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        yield


def is_done(folder: str | Path) -> bool:
    """True when the stage folder is marked done and still holds what it was marked with. A folder that
    no longer matches loses its marker (with a warning naming what changed), so the stage runs again."""
    folder = Path(folder)
    if not (folder / DONE).exists():
        return False
    problems = verify_done(folder)
    if problems:
        import warnings

        warnings.warn(f"stage folder {folder} was marked done but {'; '.join(problems[:3])}: it is computed again")
        (folder / DONE).unlink(missing_ok=True)
        return False
    return True


def verify_run(root: str | Path, deep: bool = True) -> list[dict]:
    """Every finished stage folder under a run root, and every model of its registry, checked against what
    was recorded when they were written: one row each, `ok` or what no longer matches."""
    from zeroxqa.registry.store import damage, load_registry

    root = Path(root)
    rows = [{"what": str(marker.parent.relative_to(root)), "ok": not (p := verify_done(marker.parent, deep)), "problems": "; ".join(p)}
            for marker in sorted(root.rglob(DONE))]
    registry = root / "registry.json"
    if registry.exists():
        for domain, entry in sorted(load_registry(registry)["domains"].items()):
            problem = damage(entry)
            rows.append({"what": f"registry: {domain}", "ok": problem is None, "problems": problem or ""})
    return rows
