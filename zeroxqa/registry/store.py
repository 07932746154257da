"""The model registry: the current reader of each domain, with its metrics and artifact paths, in one
JSON file written atomically. A new model replaces the current one only if it measures at least as well
on the domain's dev split (the promotion gate); otherwise the old one stays and the decision says why.
Every read-modify-write holds an exclusive file lock beside the registry, so concurrent flows, workers or
processes never lose each other's promotions.

Each entry records the content hash of its model folder. A model whose files no longer match (damaged,
half-deleted) is neither compared against nor handed out: the last entry of its history that still
matches stands in for it, and the decision says so."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from filelock import FileLock

from zeroxqa.errors import InputError
from zeroxqa.registry.atomic import write_json
from zeroxqa.registry.hashing import content_hash


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


def model_sha256(model: str) -> str | None:
    """Content hash of a model folder, None when there is no such folder (a name, or a test double)."""
    return content_hash(model) if Path(model).exists() else None


def damage(entry: dict) -> str | None:
    """Why a registry entry's model cannot be trusted any more, or None when it matches what was promoted."""
    expected = entry.get("sha256")
    if expected is None:
        return None  # promoted before hashes were recorded, or not a folder: nothing to check against
    if not Path(entry["model"]).exists():
        return f"{entry['model']} is missing"
    if model_sha256(entry["model"]) != expected:
        return f"{entry['model']} no longer matches its promoted content (sha256)"
    return None


def good_entry(entry: dict | None) -> tuple[dict | None, str | None]:
    """(the entry to rely on, why the current one was passed over): the entry itself when its model is
    intact, else the newest intact entry of its history, else None."""
    if entry is None:
        return None, None
    problem = damage(entry)
    if problem is None:
        return entry, None
    return newest_intact(reversed(entry.get("history", []))), problem


def newest_intact(records: Iterable[dict]) -> dict | None:
    """The first of `records` (newest first) whose model still matches its recorded hash."""
    return next((r for r in records if damage(r) is None), None)


class RegistryDamaged(InputError):
    """The registry file cannot be read as a registry (truncated, empty, not the expected shape)."""


def last_good_path(path: str | Path) -> Path:
    """Where the copy of the registry as of its last successful write is kept."""
    return Path(f"{path}.last-good")


def parse_registry(text: str, path: str | Path) -> dict:
    """The registry in `text`, or `RegistryDamaged` naming `path` and what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise RegistryDamaged(path, f"not valid JSON ({e})" if text.strip() else "empty file") from None
    if not isinstance(data, dict):
        raise RegistryDamaged(path, f"a registry is a JSON object, this is a {type(data).__name__}")
    data.setdefault("domains", {})
    for key, needs in (("domains", "model"), ("indexes", "index")):
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise RegistryDamaged(path, f"'{key}' is a {type(table).__name__}, not an object of domains")
        for domain, entry in table.items():
            if not isinstance(entry, dict) or not isinstance(entry.get(needs), str):
                raise RegistryDamaged(path, f"{key}[{domain!r}] has no '{needs}' path", field=f"{key}.{domain}")
            if key == "domains" and not isinstance(entry.get("f1"), (int, float)):
                raise RegistryDamaged(path, f"domains[{domain!r}] has no numeric 'f1'", field=f"domains.{domain}.f1")
    return data


def load_registry(path: str | Path) -> dict:
    """The registry at `path` (an empty one when there is none). A damaged file is reported by name; the
    copy of its last successful write stands in for it when there is one (with a warning naming both),
    else `RegistryDamaged` (an `InputError`: the CLI exits 2 with the message)."""
    path = Path(path)
    if not path.exists():
        return {"domains": {}}
    try:
        return parse_registry(path.read_text(encoding="utf-8", errors="replace"), path)
    except RegistryDamaged as damaged:
        backup = last_good_path(path)
        if not backup.exists():
            raise
        try:
            data = parse_registry(backup.read_text(encoding="utf-8", errors="replace"), backup)
        except RegistryDamaged:
            raise damaged from None
        warnings.warn(f"registry {damaged}; using its last good copy {backup}")
        return data


def save_registry(registry: dict, path: str | Path) -> None:
    """Write the registry atomically, then its last-good copy (what `load_registry` falls back on)."""
    write_json(registry, path)
    write_json(registry, last_good_path(path))


def promote(path: str | Path, domain: str, candidate: dict) -> Promotion:
    """`candidate` holds at least `f1` (on the domain's dev split) and `model` (its artifact path)."""
    with registry_lock(path):
        return _promote(path, domain, candidate)


def _promote(path: str | Path, domain: str, candidate: dict) -> Promotion:
    registry = load_registry(path)
    entry = registry["domains"].get(domain)
    current, problem = good_entry(entry)
    note = f" (the registered model was passed over: {problem})" if problem else ""
    if problem:
        warnings.warn(f"registry {path}, domain {domain!r}: {problem}; "
                      + (f"comparing against {current['model']} from its history" if current else "no intact model left"))
    f1 = float(candidate["f1"])
    better, why = _better_than_current(candidate, current)
    if not better:
        decision = Promotion(domain, False, f"kept the current model: {why}{note}", f1, float(current["f1"]))
        if problem:  # the intact entry of the history becomes the current one again
            registry["domains"][domain] = {**current, "history": _history_of(entry, upto=current)}
            save_registry(registry, path)
    else:
        shipped = candidate.get("shipped")
        what = f"{shipped} reader, " if shipped else ""
        decision = Promotion(domain, True, f"promoted: {what}{why}{note}", f1, None if current is None else float(current["f1"]))
        registry["domains"][domain] = {**candidate, "f1": f1, "sha256": model_sha256(candidate["model"]),
                                       "promoted_at": datetime.now(timezone.utc).isoformat(), "history": _history_of(entry)}
        save_registry(registry, path)
    return decision


def _better_than_current(candidate: dict, current: dict | None) -> tuple[bool, str]:
    """(replace the current model?, why). Scored on the same questions (same `questions_sha256`, per-question
    F1 recorded for both), the candidate must beat the current model paired: the one-sided 95% bootstrap
    bound of the F1 difference above zero; the same model folder counts as no change. Scored on other
    questions (the domain's data changed, or an entry from before paired decisions), mean F1 at least as high."""
    if current is None:
        return True, "first model for this domain"
    f1, current_f1 = float(candidate["f1"]), float(current["f1"])
    if candidate.get("model") == current.get("model") and model_sha256(candidate["model"]) == current.get("sha256"):
        return False, f"the candidate is the current model ({candidate['model']})"
    same = (candidate.get("questions_sha256") and candidate.get("questions_sha256") == current.get("questions_sha256")
            and candidate.get("f1_per_question") and current.get("f1_per_question"))
    if same:
        from zeroxqa.adapt.decision import paired_bootstrap

        iv = paired_bootstrap(candidate["f1_per_question"], current["f1_per_question"])
        if iv.low > 0:
            return True, f"candidate F1 {f1:.2f} vs current {current_f1:.2f} on the same questions, {iv}"
        return False, f"candidate F1 {f1:.2f} vs current {current_f1:.2f} on the same questions, {iv}: not measurably better"
    if f1 >= current_f1:
        return True, f"candidate F1 {f1:.2f} >= current {current_f1:.2f}"
    return False, f"candidate F1 {f1:.2f} < current {current_f1:.2f}"


def _history_of(entry: dict | None, upto: dict | None = None) -> list[dict]:
    """The history after `entry` is replaced: its own history plus itself (marked when damaged); with
    `upto`, only what came before that history entry."""
    if entry is None:
        return []
    history = entry.get("history", [])
    if upto is not None:
        return history[: history.index(upto)]
    record = {k: entry.get(k) for k in ("f1", "model", "promoted_at", "sha256")}
    if problem := damage(entry):
        record["damaged"] = problem
    return history + [record]


def record_model(path: str | Path, domain: str, model: str) -> None:
    """Make `model` the domain's current model without a measurement (`zeroxqa register`): its F1 is
    recorded as 0, so the next measured model of a flow replaces it; the one it replaces goes to history."""
    with registry_lock(path):
        registry = load_registry(path)
        entry = registry["domains"].get(domain)
        registry["domains"][domain] = {"model": model, "f1": 0.0, "accepted": "registered by hand", "sha256": model_sha256(model),
                                       "promoted_at": datetime.now(timezone.utc).isoformat(), "note": "registered by hand, not measured",
                                       "history": _history_of(entry)}
        save_registry(registry, path)


def record_meta_model(path: str | Path, model: str) -> None:
    """Remember the meta model new domains are onboarded from."""
    with registry_lock(path):
        registry = load_registry(path)
        registry["meta_model"] = model
        save_registry(registry, path)


def record_index(path: str | Path, domain: str, index: str) -> None:
    """Remember the domain's current retrieval index (serving answers questions of the domain from it)."""
    with registry_lock(path):
        registry = load_registry(path)
        registry.setdefault("indexes", {})[domain] = {"index": index, "built_at": datetime.now(timezone.utc).isoformat()}
        save_registry(registry, path)
