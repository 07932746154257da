"""Benchmark outputs: a Parquet table, PNG plots and a Markdown report a person reads before promoting."""

from __future__ import annotations

import platform
from pathlib import Path

import pyarrow as pa

from zeroxqa.registry.atomic import write_parquet, write_text
from zeroxqa.speed.bench.gate import HF_PIPELINE, GateDecision
from zeroxqa.plots import figure, save_figure

COLUMNS = ("variant", "exact", "f1", "HasAns_f1", "NoAns_f1", "threshold", "span_f1", "oracle_f1", "p50_ms", "p95_ms", "p99_ms", "throughput_qps",
           "speedup_p50_vs_hf", "size_mb", "peak_rss_mb", "skim_ms", "tokenize_ms", "infer_ms", "decode_ms")


def add_ratios(results: list[dict]) -> None:
    hf = next((r for r in results if r["variant"] == HF_PIPELINE), None)
    for r in results:
        r["speedup_p50_vs_hf"] = hf["p50_ms"] / r["p50_ms"] if hf else float("nan")


SPEED_GOAL = 6.0  # times the HF pipeline's p50: the speed the frontier plot marks


def plot(results: list[dict], out: Path, decision: GateDecision | None = None) -> list[Path]:
    """The three pictures of a run: latency spread, F1 per variant, and speed against F1."""
    return [save_figure(latency_figure(results), out / "latency.png", dpi=110),
            save_figure(f1_figure(results), out / "f1.png", dpi=110),
            save_figure(frontier_figure(results, decision), out / "frontier.png", dpi=110)]


def latency_figure(results: list[dict]):
    names = [r["variant"] for r in results]
    fig, ax = figure(figsize=(max(8, 0.9 * len(names)), 4))
    ax.boxplot([r["latencies_ms"] for r in results], showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("ms per question (batch 1)")
    ax.set_title("Latency: tokenize + infer + decode")
    return fig


def f1_figure(results: list[dict]):
    names = [r["variant"] for r in results]
    fig, ax = figure(figsize=(max(8, 0.9 * len(names)), 4))
    bars = ax.bar(names, [r["f1"] for r in results], color=["#888" if n == HF_PIPELINE else "#3b7dd8" for n in names])
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylabel("F1")
    ax.set_title("F1 on dev per variant")
    ax.tick_params(axis="x", rotation=20)
    return fig


def frontier_figure(results: list[dict], decision: GateDecision | None = None):
    """p50 against F1, with the speed goal and the F1 budget drawn: the gate's pick ringed, the variants it
    rejected (and the HF yardstick) in grey, so a person sees at a glance what was traded for what."""
    from matplotlib.ticker import FuncFormatter

    fig, ax = figure(figsize=(8, 5))
    passed = set(decision.passed) if decision else None
    for r in results:
        name = r["variant"]
        accepted = decision is not None and name == decision.accepted
        grey = name == HF_PIPELINE or (passed is not None and name not in passed)
        ax.scatter(r["p50_ms"], r["f1"], color="#aaa" if grey else "#3b7dd8", s=90 if accepted else 30,
                   edgecolors="#c44" if accepted else "none", linewidths=1.5)
        ax.annotate(name + (" (accepted)" if accepted else ""), (r["p50_ms"], r["f1"]), textcoords="offset points",
                    xytext=(5, 3), fontsize=8, color="#888" if grey else "black")
    hf = next((r for r in results if r["variant"] == HF_PIPELINE), None)
    if hf:
        ax.axvline(hf["p50_ms"] / SPEED_GOAL, color="#c44", linestyle="--", linewidth=1, label=f"{SPEED_GOAL:g}x the HF pipeline")
    if decision:
        ax.axhline(decision.reference_f1 - decision.max_f1_drop, color="#888", linestyle=":", linewidth=1,
                   label=f"F1 budget ({decision.max_f1_drop:g} below the reference)")
    if hf or decision:
        ax.legend(loc="best", fontsize=8)
    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 4, 6, 10 ms rather than 4x10^0
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("p50 ms per question (batch 1, log scale); grey: rejected by the gate")
    ax.set_ylabel("F1")
    ax.set_title("Speed / quality frontier: up and to the left is better")
    return fig


def markdown(results: list[dict], decision: GateDecision, context: dict) -> str:
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = "".join(
        "| " + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS) + " |\n" for r in results
    )
    lines = [
        "# ZeroxQA benchmark",
        "",
        f"Model: `{context['model']}`; data: {context['questions']} dev questions of {context['data']}; "
        f"machine: {context['machine']}; threads: {context['threads']}; window {context['max_length']} tokens, "
        f"stride {context['doc_stride']}; throughput batch {context['batch_size']}; latency over "
        f"{context['latency_questions']} questions at batch 1.",
        "",
        head + body,
        f"## Gate: accepted `{decision.accepted}`",
        "",
        *[f"- {r}" for r in decision.reasons],
        "",
        "![latency](latency.png)",
        "",
        "![F1](f1.png)",
        "",
        "![speed / quality frontier](frontier.png)",
        "",
    ]
    return "\n".join(lines)


def write_report(results: list[dict], decision: GateDecision, context: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    add_ratios(results)
    table = pa.Table.from_pylist([{**{c: r[c] for c in COLUMNS}, "questions": r["questions"],
                                   "accepted": r["variant"] == decision.accepted} for r in results])
    paths = {"parquet": write_parquet(table, out / "bench.parquet")}
    paths.update(dict(zip(("latency_png", "f1_png", "frontier_png"), plot(results, out, decision))))
    paths["markdown"] = write_text(markdown(results, decision, context), out / "report.md")
    return paths


def machine() -> str:
    from zeroxqa.speed.export.cpu import cpu_description, quantization_preset

    return f"{cpu_description()} ({platform.machine()}), int8 preset {quantization_preset()}"
