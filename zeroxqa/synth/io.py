"""Where synthetic QA reads paragraphs from and how it writes its output.

Input: shard folders or shard files from `zeroxqa shard` (paragraph shards, or QA shards whose questions
are then ignored: only their distinct paragraphs are used), or raw paragraph / QA files, which go through
the same readers and validation as `zeroxqa shard`.
Output: a folder shaped like a shard folder (`qa/<domain>.parquet` in the canonical schema and a
manifest), so training, meta-training and fine-tuning read it as they read real shards; beside it
`provenance.parquet` (every candidate and proposed negative, kept or not, with scores and reasons),
`quarantine.parquet` and `synth.json` (config, reader, generator, counts).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zeroxqa.atomic import write_json, write_parquet
from zeroxqa.errors import InputError
from zeroxqa.naming import safe_names
from zeroxqa.readers import SourceSpec
from zeroxqa.schema import context_id, qa_table, quarantine_table
from zeroxqa.shard import MANIFEST_SCHEMA, collect, manifest_row
from zeroxqa.synth.generate import PROVENANCE_SCHEMA, SynthResult


def _paragraph(row: dict) -> dict:
    return {k: row[k] for k in ("id", "domain", "context_id", "context", "source", "split")}


def _rows_of(path: Path) -> list[dict]:
    if path.is_dir():
        manifest = path / "manifest.parquet"
        if not manifest.exists():
            raise InputError(path, "a folder of paragraphs must be a shard folder with a manifest.parquet (from `zeroxqa shard`)")
        return [r for f in pq.read_table(manifest).to_pylist() for r in _rows_of(path / f["file"])]
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
    qa, paragraphs, quarantine, _, _ = collect([SourceSpec.parse(str(path))])
    if quarantine:
        first = quarantine[0]
        raise InputError(path, f"{len(quarantine)} invalid rows, the first: {first['reason']}", row=first["source"]["row"])
    return [r for rows in (*qa.values(), *paragraphs.values()) for r in rows]


def load_paragraphs(inputs: list[str], domain: str | None = None) -> list[dict]:
    """Distinct paragraphs (one per domain and context) of the inputs, of `domain` when given."""
    rows: list[dict] = []
    for text in inputs:
        spec = SourceSpec.parse(text)
        found = _rows_of(spec.path)
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
    elif len(domains) > 1:
        raise InputError(inputs[0], f"paragraphs of {len(domains)} domains ({domains[:10]}...): name one with --domain")
    unique: dict[tuple[str, str], dict] = {}
    for r in rows:
        unique.setdefault((r["domain"], r["context_id"]), _paragraph(r))
    return list(unique.values())


def write_synth(result: SynthResult, out: str | Path, domain: str, meta: dict) -> Path:
    """Write the output folder; every file atomically, the manifest last."""
    out = Path(out)
    name = safe_names([domain])[domain]
    shard_path = write_parquet(qa_table(result.rows), out / "qa" / f"{name}.parquet")
    write_parquet(pa.Table.from_pylist(result.provenance, schema=PROVENANCE_SCHEMA), out / "provenance.parquet")
    write_parquet(quarantine_table(result.quarantine), out / "quarantine.parquet")
    write_json({**meta, "domain": domain, "counts": dict(result.counts)}, out / "synth.json")
    write_parquet(pa.Table.from_pylist([manifest_row("qa", domain, shard_path, result.rows)], schema=MANIFEST_SCHEMA), out / "manifest.parquet")
    return out
