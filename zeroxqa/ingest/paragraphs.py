"""The distinct paragraphs of a domain, from shard folders, shard files or raw files: what synthetic QA
generates questions on and what retrieval indexes (a QA shard's questions are ignored, its paragraphs kept)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats import SourceSpec
from zeroxqa.ingest.schema import context_id
from zeroxqa.ingest.shard import collect


def _paragraph(row: dict) -> dict:
    return {k: row[k] for k in ("id", "domain", "context_id", "context", "source", "split")}


def _rows_of(path: Path, quarantine: list[dict] | None = None) -> list[dict]:
    if path.is_dir():
        manifest = path / "manifest.parquet"
        if not manifest.exists():
            raise InputError(path, "a folder of paragraphs must be a shard folder with a manifest.parquet (from `zeroxqa shard`)")
        return [r for f in pq.read_table(manifest).to_pylist() for r in _rows_of(path / f["file"], quarantine)]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        missing = {"id", "domain", "context", "source"} - set(table.column_names)
        if missing:
            raise InputError(path, f"not a paragraph or QA shard: missing columns {sorted(missing)}")
        rows = table.to_pylist()
        for r in rows:
            r.setdefault("context_id", context_id(r["domain"], r["context"]))
            r.setdefault("split", None)
        return rows
    qa, paragraphs, rejected, _, _ = collect([SourceSpec.parse(str(path))])
    if rejected and quarantine is None:
        first = rejected[0]
        raise InputError(path, f"{len(rejected)} invalid rows, the first: {first['reason']}", row=first["source"]["row"])
    if quarantine is not None:
        quarantine += rejected
    return [r for rows in (*qa.values(), *paragraphs.values()) for r in rows]


def load_paragraphs(inputs: list[str], domain: str | None = None, quarantine: list[dict] | None = None,
                    every_domain: bool = False) -> list[dict]:
    """Distinct paragraphs (one per domain and context) of the inputs, of `domain` when given (of every domain
    they hold with `every_domain`). Invalid rows of raw files end the call with an `InputError`, or, given a
    `quarantine` list, are set aside in it (as `zeroxqa shard` does) and the valid rows kept."""
    rows: list[dict] = []
    for text in inputs:
        spec = SourceSpec.parse(text)
        found = _rows_of(spec.path, quarantine)
        if spec.domain:
            for r in found:
                r["domain"] = spec.domain
                r["context_id"] = context_id(spec.domain, r["context"])
        rows += found
    domains = sorted({r["domain"] for r in rows})
    if domain is not None:
        rows = [r for r in rows if r["domain"] == domain]
        if not rows:
            raise InputError(inputs[0], f"no paragraphs of domain {domain!r}; the inputs hold {domains[:20]}")
    elif len(domains) > 1 and not every_domain:
        raise InputError(inputs[0], f"paragraphs of {len(domains)} domains ({domains[:10]}...): name one with --domain")
    unique: dict[tuple[str, str], dict] = {}
    for r in rows:
        unique.setdefault((r["domain"], r["context_id"]), _paragraph(r))
    return list(unique.values())
