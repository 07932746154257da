"""The model registry: the current reader of each domain, with its metrics and artifact paths, in one
JSON file written atomically. A new model replaces the current one only if it measures at least as well
on the domain's dev split (the promotion gate); otherwise the old one stays and the decision says why.
Every read-modify-write holds an exclusive file lock beside the registry, so concurrent flows, workers or
processes never lose each other's promotions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from zeroxqa.atomic import write_json


def registry_lock(path: str | Path) -> FileLock:
    """The lock every writer of the registry at `path` takes (a `.lock` file beside it)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return FileLock(f"{path}.lock")


@dataclass
class Promotion:
    domain: str
    promoted: bool
    reason: str
    candidate_f1: float
    current_f1: float | None


def load_registry(path: str | Path) -> dict:
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {"domains": {}}


def promote(path: str | Path, domain: str, candidate: dict) -> Promotion:
    """`candidate` holds at least `f1` (on the domain's dev split) and `model` (its artifact path)."""
    with registry_lock(path):
        return _promote(path, domain, candidate)


def _promote(path: str | Path, domain: str, candidate: dict) -> Promotion:
    registry = load_registry(path)
    current = registry["domains"].get(domain)
    f1 = float(candidate["f1"])
    if current is not None and f1 < float(current["f1"]):
        decision = Promotion(domain, False, f"kept the current model: candidate F1 {f1:.2f} < current {current['f1']:.2f}",
                             f1, float(current["f1"]))
    else:
        why = "first model for this domain" if current is None else f"candidate F1 {f1:.2f} >= current {current['f1']:.2f}"
        decision = Promotion(domain, True, f"promoted: {why}", f1, None if current is None else float(current["f1"]))
        history = (current or {}).get("history", []) + ([{k: current[k] for k in ("f1", "model", "promoted_at")}] if current else [])
        registry["domains"][domain] = {**candidate, "f1": f1, "promoted_at": datetime.now(timezone.utc).isoformat(),
                                       "history": history}
        write_json(registry, path)
    return decision


def record_meta_model(path: str | Path, model: str) -> None:
    """Remember the meta model new domains are onboarded from."""
    with registry_lock(path):
        registry = load_registry(path)
        registry["meta_model"] = model
        write_json(registry, path)
