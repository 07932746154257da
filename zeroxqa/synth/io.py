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

from zeroxqa.registry.atomic import write_json, write_parquet
from zeroxqa.ingest.naming import safe_names
from zeroxqa.ingest.schema import qa_table, quarantine_table
from zeroxqa.ingest.shard import MANIFEST_SCHEMA, manifest_row
from zeroxqa.synth.generate import PROVENANCE_SCHEMA, SynthResult


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
