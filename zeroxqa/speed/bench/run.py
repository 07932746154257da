"""The benchmark end to end: build variants, measure each (and the HF pipeline), gate, report."""

from __future__ import annotations

import os
from pathlib import Path

from zeroxqa.registry.atomic import write_json
from zeroxqa.speed.bench.gate import HF_PIPELINE, decide
from zeroxqa.speed.bench.measure import measure_engine, measure_hf_pipeline, measure_in_subprocess
from zeroxqa.speed.bench.report import machine, write_report
from zeroxqa.speed.bench.variants import (REFERENCE, build_variants, select_variants, size_mb, skim_configs,
                                    student_variants)
from zeroxqa.config import BenchConfig, ReaderConfig
from zeroxqa.speed.export.onnx import calibration_texts
from zeroxqa.reader.model import read_card


def run_bench(reader_dir: str | Path, rows: list[dict], out: str | Path, cfg: BenchConfig | None = None,
              data_label: str = "", progress=print, prebuilt: dict[str, Path] | None = None,
              calibration_rows: list[dict] | None = None) -> dict:
    """Every variant measured in its own process on `rows`. With `calibration_rows` (labelled rows held apart
    from `rows`), a statically quantized int8 variant is added, and every variant's no-answer threshold, the
    reference's too, is set again on them (`calibrate_thresholds`): quantization and skimming shift the null
    scores a threshold was set for. Only the benchmark's own copies are rewritten."""
    import shutil

    from zeroxqa.reader.reference import whole_reader_dir

    cfg = cfg or BenchConfig()
    out = Path(out)
    reader_dir = whole_reader_dir(reader_dir, out / "reader")  # the HF pipeline cannot load the compact form
    if calibration_rows and Path(reader_dir).resolve() != (out / "reader").resolve():
        reader_dir = Path(shutil.copytree(reader_dir, out / "reader", dirs_exist_ok=True))
    rows = rows[: cfg.max_questions] if cfg.max_questions else rows
    if not rows:
        raise ValueError("no rows to benchmark on")
    progress("building variants (ONNX export, optimization, int8)...")
    calibration = calibration_texts(calibration_rows, cfg.calibration_questions) if calibration_rows else None
    skims = skim_configs(cfg)
    variants = build_variants(reader_dir, out / "variants", cfg.optimize_level, prebuilt, skims, calibration, cfg.only)
    variants |= student_variants(cfg.students, out / "variants", cfg.optimize_level, skims)
    variants = select_variants(variants, cfg.only)
    if calibration_rows:
        calibrate_thresholds(variants, calibration_rows, out, progress)
    results = []
    jobs = [(HF_PIPELINE, measure_hf_pipeline, Path(reader_dir))] if cfg.hf_pipeline else []
    jobs += [(name, measure_engine, folder) for name, folder in variants.items()]
    for name, fn, folder in jobs:
        progress(f"measuring {name} on {len(rows)} questions...")
        r = measure_in_subprocess(fn, name, folder, rows, cfg)
        r["size_mb"] = size_mb(folder)
        results.append(r)
    decision = decide(results, cfg.max_f1_drop)
    rc = ReaderConfig(**read_card(reader_dir).get("reader_config", {}))
    context = {"model": str(reader_dir), "questions": len(rows), "data": data_label, "machine": machine(),
               "threads": cfg.threads or os.cpu_count(), "max_length": rc.max_length, "doc_stride": rc.doc_stride,
               "batch_size": cfg.batch_size, "latency_questions": cfg.latency_questions}
    paths = write_report(results, decision, context, out)
    accepted = {**decision.to_dict(), "path": str(variants[decision.accepted])}
    paths["accepted"] = write_json(accepted, out / "accepted.json")
    return {"results": results, "decision": decision, "paths": paths, "variants": variants}


def calibrate_thresholds(variants: dict[str, Path], rows: list[dict], out: Path, progress=print) -> None:
    """The reference's no-answer threshold by the best-F1 search on `rows`; every other variant's so that it
    abstains on as many of them as the reference does (each reading with its own windows). Only the
    benchmark's own copies are rewritten, never a prebuilt stage output."""
    from zeroxqa.reader.evaluate import recalibrate

    progress(f"calibrating the no-answer threshold of {REFERENCE} on {len(rows)} held-out questions...")
    share = recalibrate(variants[REFERENCE], rows, split="calibration").abstained
    for name, folder in variants.items():
        if name != REFERENCE and Path(folder).resolve().is_relative_to(out.resolve()):
            progress(f"setting {name}'s threshold to abstain on {100 * share:.1f}% of them, as {REFERENCE} does...")
            recalibrate(folder, rows, split="calibration", abstain_share=share)
