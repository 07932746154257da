"""Reading canonical QA rows back from shards (files or shard folders with a manifest)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zeroxqa.errors import InputError
from zeroxqa.ingest.schema import QA_SCHEMA


def shard_files(paths: list[str | Path]) -> list[Path]:
    """Expand shard folders (their `qa/` shards, by the manifest) and keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            manifest = p / "manifest.parquet"
            if not manifest.exists():
                raise InputError(p, "a folder given as shards must hold a manifest.parquet (from `zeroxqa shard`)")
            table = pq.read_table(manifest).to_pylist()
            out += [p / r["file"] for r in table if r["kind"] == "qa"]
        elif p.exists():
            out.append(p)
        else:
            raise InputError(p, "file not found")
    return out


def load_rows(paths: list[str | Path], split: str | None = None, domains: list[str] | None = None) -> list[dict]:
    """Canonical rows of the given shards, optionally of one split ('train' / 'dev') and some domains."""
    rows: list[dict] = []
    for f in shard_files(paths):
        try:
            table = pq.read_table(f)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f, f"not a Parquet shard from `zeroxqa shard` (shard raw files first): {e}") from None
        missing = set(QA_SCHEMA.names) - set(table.column_names)
        if missing:
            raise InputError(f, f"not a QA shard: missing columns {sorted(missing)}")
        rows += [
            r
            for r in table.to_pylist()
            if (split is None or r["split"] == split) and (domains is None or r["domain"] in domains)
        ]
    return rows


def rows_sha256(rows: list[dict]) -> str:
    """A content hash of QA rows (order-independent): what a model card records as its training data."""
    import hashlib
    import json

    h = hashlib.sha256()
    for key in sorted(json.dumps([r["id"], r["context"], r["question"], r["answers"], r["is_impossible"]], ensure_ascii=False) for r in rows):
        h.update(key.encode("utf-8"))
    return h.hexdigest()


def by_domain(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["domain"], []).append(r)
    return out


def domain_splits(paths: list[str | Path], domains: list[str] | None = None) -> dict[str, tuple[list[dict], list[dict]]]:
    """domain -> (train rows, dev rows) of the given shards."""
    train, dev = by_domain(load_rows(paths, "train", domains)), by_domain(load_rows(paths, "dev", domains))
    return {d: (train.get(d, []), dev.get(d, [])) for d in sorted(set(train) | set(dev))}
