"""Orchestration commands: `run` (the main job), `watch`, `emit-domain`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import app, clear_input_errors, console
from zeroxqa.config import RetrainParams


_RETRAIN = RetrainParams()


@app.command()
def run(
    out: Annotated[Path, typer.Option("--out", "-o", help="root folder of all artifacts")] = Path(_RETRAIN.out),
) -> None:
    """The main job: the Prefect `retrain` flow on the embedded sample (shard, fine-tune per out-domain from the
    reference reader, quantize, benchmark, register, index each out-domain for retrieval, report). Run again
    unchanged, every stage finds its finished output and nothing is recomputed."""
    import os
    import time

    # without PREFECT_API_URL Prefect starts a temporary server; on a busy laptop it can need more than
    # Prefect's default wait (seen: a timeout with the 2 cores taken by another job)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # that temporary server would report telemetry (an ERROR line on a machine with no internet)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.retrain import retrain
    from zeroxqa.isolate import reap_children_on_death

    reap_children_on_death()  # a killed run takes Prefect's temporary server and its workers with it
    started = time.perf_counter()
    result = retrain(RetrainParams(out=str(out)))
    for p in result["promotions"]:
        console.print(f"{p['domain']}: {p['reason']}", highlight=False)
    console.print(f"shards: {', '.join(result['shards'])}")
    console.print(f"initialization: {result['meta_model']}")
    for domain, model in result["models"].items():
        console.print(f"fine-tuned {domain}: {model}")
    for domain, model in result["shipped"].items():
        console.print(f"shipped {domain}: {model}")
    console.print(f"report: {result['report']}")
    console.print(f"registry: {result['registry']}")
    console.print(f"finished in {time.perf_counter() - started:.0f} s")


@app.command("watch")
def watch_cmd(
    inbox: Annotated[Path, typer.Argument(help="folder where new domain files land")],
    out: Annotated[str, typer.Option(help="artifact root the onboarding flow writes to")] = _RETRAIN.out,
    interval: Annotated[float, typer.Option(help="seconds between polls")] = 5.0,
    once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
) -> None:
    """Emit `zeroxqa.domain.arrived` for each new file in INBOX (the onboarding deployment listens for it)."""
    from zeroxqa.watch import watch

    watch(inbox, out, interval=interval, once=once, log=lambda m: console.print(m, highlight=False))


@app.command("emit-domain")
def emit_domain(
    domain: Annotated[str, typer.Option(help="the new domain's name")],
    labeled: Annotated[Path | None, typer.Option(help="file of labelled questions")] = None,
    paragraphs: Annotated[Path | None, typer.Option(help="file of unlabeled paragraphs")] = None,
    out: Annotated[str, typer.Option(help="artifact root the onboarding flow writes to")] = _RETRAIN.out,
) -> None:
    """Emit one `zeroxqa.domain.arrived` event by hand."""
    from zeroxqa.cli.common import err_console
    from zeroxqa.watch import emit_domain_arrived

    if labeled is None and paragraphs is None:
        err_console.print("[red]error:[/red] give --labeled or --paragraphs (or both)")
        raise typer.Exit(2)
    for option, path in (("--labeled", labeled), ("--paragraphs", paragraphs)):
        if path is not None and not path.is_file():
            err_console.print(f"[red]error:[/red] {option} {path}: no such file; nothing was emitted")
            raise typer.Exit(2)
    payload = {"domain": domain, "labeled": str(labeled.resolve()) if labeled else None,
               "paragraphs": str(paragraphs.resolve()) if paragraphs else None, "out": str(Path(out).resolve())}
    emit_domain_arrived(payload)
    console.print(f"emitted zeroxqa.domain.arrived for {domain}")


@app.command("verify")
def verify_cmd(
    root: Annotated[Path, typer.Argument(help="a run folder (e.g. runs/main)")],
    deep: Annotated[bool, typer.Option(help="re-hash every file (else only those touched since they were hashed)")] = True,
) -> None:
    """Check a whole run: every finished stage folder against the sizes and hashes recorded when it was
    marked done, and every registered model against its promoted content. Exit 1 when something changed."""
    from zeroxqa.registry.artifacts import verify_run
    from zeroxqa.cli.common import print_table

    if not root.is_dir():
        console.print(f"[red]error:[/red] {root}: not a folder")
        raise typer.Exit(2)
    with clear_input_errors():
        rows = verify_run(root, deep)
    bad = [r for r in rows if not r["ok"]]
    print_table(f"{root}: {len(rows)} checked, {len(bad)} changed", bad or rows[:10])
    if bad:
        raise typer.Exit(1)
