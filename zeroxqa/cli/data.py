"""`zeroxqa shard`: validated inputs -> per-domain Parquet shards, quarantine and reconciliation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import app, clear_input_errors, console, print_table
from zeroxqa.config import ShardConfig

_SHARD = ShardConfig()


@app.command()
def shard(
    inputs: Annotated[list[str], typer.Argument(help="input files: PATH, DOMAIN=PATH or DOMAIN:SPLIT=PATH")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
    dev_fraction: Annotated[float, typer.Option(help="share of contexts held out as dev")] = _SHARD.dev_fraction,
    seed: Annotated[int, typer.Option(help="split seed")] = _SHARD.seed,
    dev_domain: Annotated[list[str] | None, typer.Option("--dev-domain", help="a domain held out whole as dev, "
                                                         "e.g. articles to calibrate on that training never sees (repeatable)")] = None,
) -> None:
    """Validate inputs and write one Parquet shard per domain, a manifest, a quarantine and the reconciliation."""
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.shard import shard as run_shard

    with clear_input_errors():
        specs = [SourceSpec.parse(i) for i in inputs]
        result = run_shard(specs, out, ShardConfig(dev_fraction=dev_fraction, seed=seed, dev_domains=dev_domain or []))
    report_shard(result)


def report_shard(result) -> None:
    from zeroxqa.ingest.shard import RECON_KEYS

    recon = result.reconciliation.to_pylist()
    by_file: dict[str, dict] = {}
    for r in recon:
        agg = by_file.setdefault(r["file"], {"file": r["file"], "domains": 0, **{k: 0 for k in RECON_KEYS}})
        agg["domains"] += 1
        for k in RECON_KEYS:
            agg[k] += r[k]
    total = {k: sum(r[k] for r in recon) for k in RECON_KEYS}
    print_table("Reconciliation by file (read = kept + quarantined)", list(by_file.values()))
    manifest = result.manifest.select(["kind", "domain", "rows", "answerable", "unanswerable", "contexts", "train", "dev"])
    print_table(f"Shards ({manifest.num_rows})", manifest.to_pylist())
    console.print(
        f"read {total['read']} = kept {total['kept']} + quarantined {total['quarantined']}"
        f" (repaired {total['repaired']}); per file and domain in {result.out / 'reconciliation.parquet'}"
    )
    if result.quarantined:
        console.print(f"[yellow]{result.quarantined} rows quarantined with their reasons:[/yellow] {result.out / 'quarantine.parquet'}")
    console.print(f"manifest: {result.manifest_path}")
