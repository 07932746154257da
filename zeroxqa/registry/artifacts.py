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


def stage_files(folder: Path) -> list[Path]:
    """The files a stage wrote (hidden files and the done-marker left out)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != DONE
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _stat_of(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def mark_done(folder: str | Path) -> None:
    """Mark a stage folder finished, recording the sha256 of every file it holds, with the size, mtime and
    inode it had when hashed (so a later check re-hashes only what was touched since)."""
    folder = Path(folder)
    files = {str(p.relative_to(folder)): {**_stat_of(p), "sha256": file_sha256(p)} for p in stage_files(folder)}
    from zeroxqa.registry.atomic import write_json

    write_json({"files": files}, folder / DONE)


def verify_done(folder: str | Path, deep: bool = False) -> list[str]:
    """What no longer matches the done-marker of a stage folder: a missing or unreadable marker, missing
    files, other sizes, other contents. A file whose size, mtime and inode are those it had when it was
    hashed is taken as unchanged (any write, a byte flipped in place included, changes its mtime); any
    other is hashed again, and every file is with `deep`. Empty when the folder is as the stage left it."""
    folder = Path(folder)
    try:
        files = json.loads((folder / DONE).read_text())["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except FileNotFoundError:
        return ["it has no done-marker"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        return [f"its done-marker is unreadable ({type(e).__name__})"]
    problems = []
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        now = _stat_of(path)
        if now["size"] != meta.get("size"):
            problems.append(f"{name} changed size ({meta.get('size')} -> {now['size']} bytes)")
        elif (deep or any(now[k] != meta.get(k) for k in ("mtime_ns", "inode"))) and file_sha256(path, fresh=deep) != meta.get("sha256"):
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
            problems = [p for p in (damage(entry), registry_entry_concerns(entry, root)) if p]
            rows.append({"what": f"registry: {domain}", "ok": not problems, "problems": "; ".join(problems)})
    return rows


def registry_entry_concerns(entry: dict, root: Path) -> str | None:
    """What `verify` flags beyond a hash mismatch: an entry with no hash (nothing to check its model
    against) or a model outside the run folder (not written by this run's stages)."""
    concerns = []
    if entry.get("sha256") is None:
        concerns.append(f"{entry['model']} has no recorded hash: its content cannot be checked")
    model = Path(entry["model"]).resolve()
    if not model.is_relative_to(root.resolve()):
        concerns.append(f"{entry['model']} lies outside the run folder {root}")
    return "; ".join(concerns) or None
