"""Speed commands: `export` (ONNX, optimization, int8) and `bench`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import Domains, Shards, app, clear_input_errors, console, err_console, print_table
from zeroxqa.config import BenchConfig


@app.command()
def export(
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader, or 'squad'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the ONNX variant")],
    optimize: Annotated[str | None, typer.Option(help="ORT graph optimization level: O1, O2 or O3")] = None,
    quantize: Annotated[bool, typer.Option(help="dynamic int8 with this CPU's preset")] = True,
) -> None:
    """Export a reader to ONNX, optionally graph-optimize it, and quantize it to int8."""
    from zeroxqa.export.cpu import quantization_preset
    from zeroxqa.export.onnx import export_onnx, optimize_onnx, quantize_int8
    from zeroxqa.model import check_model_dir

    with clear_input_errors():
        model = check_model_dir(model)
    path = export_onnx(model, out.with_name(out.name + "-fp32") if optimize or quantize else out)
    if optimize:
        path = optimize_onnx(path, out.with_name(out.name + f"-{optimize.lower()}") if quantize else out, optimize)
    if quantize:
        path = quantize_int8(path, out)
        console.print(f"int8 preset: {quantization_preset()}")
    console.print(f"ONNX reader: {path}")


_BENCH = BenchConfig()


@app.command()
def bench(
    shards: Shards,
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader (torch fp32), or 'squad'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of variants, bench.parquet, report.md, plots")],
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    max_questions: Annotated[int | None, typer.Option(help="score at most this many questions")] = _BENCH.max_questions,
    latency_questions: Annotated[int, typer.Option(help="questions timed at batch 1")] = _BENCH.latency_questions,
    batch_size: Annotated[int, typer.Option(help="batch of the throughput pass")] = _BENCH.batch_size,
    threads: Annotated[int | None, typer.Option(help="threads per variant (default: all cores)")] = _BENCH.threads,
    max_f1_drop: Annotated[float, typer.Option(help="largest F1 loss of an accepted int8 model")] = _BENCH.max_f1_drop,
    hf_pipeline: Annotated[bool, typer.Option(help="measure the HF pipeline reference row")] = _BENCH.hf_pipeline,
) -> None:
    """Torch fp32, ONNX fp32, ONNX optimized and ONNX int8 against the HF pipeline: EM/F1, latency
    p50/p95/p99 at batch 1, throughput, size, peak memory; gate the int8 model; write Parquet, Markdown, PNG."""
    from zeroxqa.bench.run import run_bench
    from zeroxqa.dataset import load_rows
    from zeroxqa.model import check_model_dir

    with clear_input_errors():
        model = check_model_dir(model)
        rows = load_rows(shards, None if split == "all" else split, domain)
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split {split!r} of {[str(s) for s in shards]} to benchmark on")
        raise typer.Exit(2)
    cfg = BenchConfig(max_questions=max_questions, latency_questions=latency_questions, batch_size=batch_size,
                      threads=threads, max_f1_drop=max_f1_drop, hf_pipeline=hf_pipeline)
    label = f"{split} split of {', '.join(str(s) for s in shards)}"
    result = run_bench(model, rows, out, cfg, data_label=label, progress=lambda m: console.print(f"[dim]{m}[/dim]"))
    shown = ("variant", "f1", "p50_ms", "p95_ms", "throughput_qps", "speedup_p50_vs_hf", "size_mb", "peak_rss_mb")
    print_table("Benchmark (full table in report.md)", [{c: r[c] for c in shown} for r in result["results"]])
    for reason in result["decision"].reasons:
        console.print(f"- {reason}", highlight=False)
    for name, path in result["paths"].items():
        console.print(f"{name}: {path}")
