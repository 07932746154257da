"""Inputs -> validated per-domain Parquet shards, a manifest, a quarantine file and the reconciliation.

Layout of the output folder:
    qa/<domain>.parquet           canonical QA rows (QA_SCHEMA), split by context
    paragraphs/<domain>.parquet   unlabeled paragraphs (PARAGRAPH_SCHEMA)
    manifest.parquet / .json      one row a shard: counts and content hash
    quarantine.parquet            rejected rows with their reason and raw content
    repairs.parquet               kept rows whose answer offset was repaired
    reconciliation.parquet        per file and domain: read = kept + quarantined
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from zeroxqa.registry.artifacts import file_sha256
from zeroxqa.registry.atomic import atomic_dir, write_json, write_parquet
from zeroxqa.config import ShardConfig
from zeroxqa.errors import InputError
from zeroxqa.ingest.naming import safe_names
from zeroxqa.ingest.formats import SourceSpec, detect_format, kind_of, read_rows
from zeroxqa.ingest.schema import (
    QA_SCHEMA,
    context_id,
    paragraph_table,
    qa_table,
    quarantine_table,
)
from zeroxqa.ingest.splits import assign_splits
from zeroxqa.ingest.validate import RowValidator, unencodable

UNKNOWN_DOMAIN = "(unknown)"
RECON_KEYS = ("read", "kept", "repaired", "quarantined")


@dataclass
class ShardResult:
    out: Path
    manifest: pa.Table
    reconciliation: pa.Table
    quarantined: int

    @property
    def manifest_path(self) -> Path:
        return self.out / "manifest.parquet"


def _raw_json(raw: object) -> str:
    """The raw record as JSON text; escaped (\\uXXXX) where it holds what UTF-8 cannot encode, so a record
    with an unpaired surrogate is kept in quarantine rather than failing its write."""
    text = json.dumps(raw, ensure_ascii=False, default=str)
    return json.dumps(raw, ensure_ascii=True, default=str) if unencodable(text) else text


def _safe(text: str | None) -> str | None:
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(text, str) and unencodable(text) else text


def _with_context(raw, row: dict, file: str, seen: set) -> object:
    """A quarantined row's raw record, whole: formats whose raw record is one question of a shared context
    (an MRQA line) get the context added, once per line (later rows of the line point to the first)."""
    if not isinstance(raw, dict) or "line" not in raw or "context" in raw or not row.get("context"):
        return raw
    key = (file, raw["line"])
    if key in seen:
        return {**raw, "context": f"(the context of line {raw['line']}: see its first quarantined row)"}
    seen.add(key)
    return {**raw, "context": row["context"]}


def collect(specs: list[SourceSpec]) -> tuple[dict, dict, list, list, dict]:
    """Read and validate every input. Returns kept QA and paragraph rows by domain, quarantined rows,
    repairs, and counts by (file, domain)."""
    validator = RowValidator()
    qa: dict[str, list[dict]] = defaultdict(list)
    paragraphs: dict[str, list[dict]] = defaultdict(list)
    quarantine: list[dict] = []
    repairs: list[dict] = []
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    quarantined_contexts: set[tuple[str, object]] = set()
    for spec in specs:
        fmt = detect_format(spec.path)
        kind = kind_of(fmt)
        for row in read_rows(spec, fmt):
            domain = _safe(str(row.get("domain") or "").strip()) or UNKNOWN_DOMAIN
            key = (str(spec.path), domain)
            counts[key]["read"] += 1
            verdict = validator.check_qa(row) if kind == "qa" else validator.check_paragraph(row)
            raw = row.pop("raw", None)
            row.pop("problem", None)
            if not verdict.kept:
                counts[key]["quarantined"] += 1
                raw = _with_context(raw, row, str(spec.path), quarantined_contexts)
                quarantine.append(
                    {"source": row["source"], "domain": domain, "id": _safe(str(row["id"])) if row.get("id") is not None else None,
                     "reason": verdict.reason, "raw": _raw_json(raw)}
                )
                continue
            counts[key]["kept"] += 1
            if verdict.repairs:
                counts[key]["repaired"] += 1
                repairs.append({"source": row["source"], "domain": domain, "id": row["id"], "repair": "; ".join(verdict.repairs)})
            row["domain"] = domain
            row["context_id"] = context_id(domain, row["context"])
            (qa if kind == "qa" else paragraphs)[domain].append(row)
    return qa, paragraphs, quarantine, repairs, counts


def _split(rows: list[dict], domain: str, cfg: ShardConfig) -> None:
    """Give every row without a split one: all of them dev in a held-out domain, else by its context."""
    if domain in cfg.dev_domains:
        for r in rows:
            r["split"] = r.get("split") or "dev"
        return
    unsplit = [r["context_id"] for r in rows if r.get("split") is None]
    sides = assign_splits(unsplit, domain=domain, dev_fraction=cfg.dev_fraction, seed=cfg.seed)
    for r in rows:
        if r.get("split") is None:
            r["split"] = sides[r["context_id"]]


def manifest_row(kind: str, domain: str, path: Path, rows: list[dict]) -> dict:
    impossible = sum(1 for r in rows if r.get("is_impossible"))
    return {
        "kind": kind,
        "domain": domain,
        "file": str(path.relative_to(path.parent.parent)),
        "rows": len(rows),
        "answerable": len(rows) - impossible if kind == "qa" else 0,
        "unanswerable": impossible,
        "contexts": len({r["context_id"] for r in rows}),
        "train": sum(1 for r in rows if r["split"] == "train"),
        "dev": sum(1 for r in rows if r["split"] == "dev"),
        "sha256": file_sha256(path),
    }


def reconciliation_table(counts: dict) -> pa.Table:
    rows = [{"file": f, "domain": d, **{k: c[k] for k in RECON_KEYS}} for (f, d), c in sorted(counts.items())]
    for r in rows:
        assert r["read"] == r["kept"] + r["quarantined"], f"counts do not reconcile: {r}"
    schema = pa.schema([("file", pa.string()), ("domain", pa.string())] + [(k, pa.int64()) for k in RECON_KEYS])
    return pa.Table.from_pylist(rows, schema=schema)


def shard(specs: list[SourceSpec], out: str | Path, cfg: ShardConfig | None = None) -> ShardResult:
    """Read, validate, split and write. Raises `InputError` on a file-level problem before writing anything.

    The output is written into a temporary folder that replaces `out` only once it is complete, so a
    crash or a kill leaves the previous shards and their manifest as they were, never a mix of both."""
    cfg = cfg or ShardConfig()
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.parquet").exists())):
        raise InputError(out, "the output exists and is not a shard folder (no manifest.parquet): choose a new or empty folder")
    qa, paragraphs, quarantine, repairs, counts = collect(specs)
    unknown = sorted(set(cfg.dev_domains) - set(qa) - set(paragraphs))
    if unknown:
        raise InputError(out, f"--dev-domain {', '.join(unknown)}: no such domain in the inputs "
                              f"(they hold {', '.join(sorted(set(qa) | set(paragraphs))[:20])})")
    names = safe_names(list(qa) + list(paragraphs))
    manifest: list[dict] = []
    with atomic_dir(out) as tmp:
        for kind, groups, to_table in (("qa", qa, qa_table), ("paragraphs", paragraphs, paragraph_table)):
            for domain in sorted(groups):
                rows = groups[domain]
                _split(rows, domain, cfg)
                path = write_parquet(to_table(rows), tmp / kind / f"{names[domain]}.parquet")
                manifest.append(manifest_row(kind, domain, path, rows))
        manifest_table = pa.Table.from_pylist(manifest, schema=MANIFEST_SCHEMA)
        recon = reconciliation_table(counts)
        write_parquet(quarantine_table(quarantine), tmp / "quarantine.parquet")
        write_parquet(pa.Table.from_pylist(repairs, schema=REPAIRS_SCHEMA), tmp / "repairs.parquet")
        write_parquet(recon, tmp / "reconciliation.parquet")
        write_parquet(manifest_table, tmp / "manifest.parquet")
        write_json({"config": cfg.model_dump(), "shards": manifest}, tmp / "manifest.json")
    return ShardResult(out=out, manifest=manifest_table, reconciliation=recon, quarantined=len(quarantine))


MANIFEST_SCHEMA = pa.schema(
    [("kind", pa.string()), ("domain", pa.string()), ("file", pa.string())]
    + [(k, pa.int64()) for k in ("rows", "answerable", "unanswerable", "contexts", "train", "dev")]
    + [("sha256", pa.string())]
)
REPAIRS_SCHEMA = pa.schema(
    [("source", QA_SCHEMA.field("source").type), ("domain", pa.string()), ("id", pa.string()), ("repair", pa.string())]
)


def load_manifest(shard_dir: str | Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(Path(shard_dir) / "manifest.parquet")
