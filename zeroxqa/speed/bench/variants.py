"""Build the variants of a saved reader that the benchmark compares."""

from __future__ import annotations

from pathlib import Path

from zeroxqa.config import BenchConfig, SkimConfig
from zeroxqa.speed.export.onnx import export_onnx, optimize_onnx, quantize_int8, quantize_static_int8, with_skimming

REFERENCE = "torch-fp32"
STATIC_INT8 = "onnx-int8-static"


class UnknownVariant(ValueError):
    """`--only` named a variant this run does not build."""


def skim_configs(cfg: BenchConfig) -> dict[str, SkimConfig]:
    """Name suffix -> skim config of every skimming variant the benchmark asks for: `skimK` reads K
    sentences (lexical scorer); `skimKpP` keeps the learned ranker's best sentences, at most K, until they
    hold P % of its probability (adaptive)."""
    configs = {f"skim{k}": SkimConfig(keep_sentences=k) for k in cfg.skim_sentences}
    if cfg.skim_coverage:
        from zeroxqa.speed.sentence_ranker import resolve_ranker

        ranker = resolve_ranker(cfg.skim_ranker)
        for p in cfg.skim_coverage:
            configs[f"skim{cfg.skim_max_sentences}p{round(100 * p)}"] = SkimConfig(
                keep_sentences=cfg.skim_max_sentences, coverage=p, ranker=ranker)
    return configs


def build_variants(reader_dir: str | Path, out: str | Path, optimize_level: str = "O2",
                   prebuilt: dict[str, Path] | None = None, skims: dict[str, SkimConfig] | None = None,
                   calibration: tuple[list[str], list[str]] | None = None, only: list[str] | None = None) -> dict[str, Path]:
    """name -> folder. The int8 model is quantized from the plain export (the reliable path); the optimized
    graph is quantized too, through the default-tensor-type fallback. With `calibration` (held-out questions
    and their contexts) a statically quantized int8 model is added. Each of `skims` (name suffix -> config)
    adds every int8 model of the optimized or static kind reading what it keeps: skimming and quantization are
    separate levers, and the fastest pair within the F1 budget is not known in advance. Variants in
    `prebuilt` (for example the pipeline's quantize stage output) are used as they are; when `only` names
    nothing but those, nothing else is built."""
    out, prebuilt = Path(out), prebuilt or {}
    if only and set(only) <= set(prebuilt) | {REFERENCE} and not calibration and not skims:
        # the per-domain gate of the flows: only what it can ship (built by the quantize stage) and the reference
        return {REFERENCE: Path(reader_dir), **{k: Path(prebuilt[k]) for k in only if k in prebuilt}}
    opt = f"onnx-{optimize_level.lower()}"
    if {REFERENCE, "onnx-fp32", opt, "onnx-int8", f"{opt}-int8"} <= set(prebuilt):
        variants = {k: Path(v) for k, v in prebuilt.items()}
    else:
        fp32 = prebuilt.get("onnx-fp32") or export_onnx(reader_dir, out / "onnx-fp32")
        optimized = prebuilt.get(opt) or optimize_onnx(fp32, out / opt, optimize_level)
        variants = {
            REFERENCE: Path(reader_dir),
            "onnx-fp32": Path(fp32),
            opt: Path(optimized),
            "onnx-int8": Path(prebuilt.get("onnx-int8") or quantize_int8(fp32, out / "onnx-int8")),
            f"{opt}-int8": quantize_int8(optimized, out / f"{opt}-int8"),
        }
    if calibration:
        variants[STATIC_INT8] = quantize_static_int8(variants["onnx-fp32"], out / STATIC_INT8, *calibration)
    skimmed = [(base, suffix) for base in (f"{opt}-int8", STATIC_INT8) if base in variants for suffix in skims or {}]
    for base, suffix in skimmed:
        variants[f"{base}-{suffix}"] = with_skimming(variants[base], out / f"{base}-{suffix}", skims[suffix])
    return variants


def student_variants(students: list[str | Path], out: str | Path, optimize_level: str = "O2",
                     skims: dict[str, SkimConfig] | None = None) -> dict[str, Path]:
    """name -> folder for each smaller reader: its optimized int8 export (named after its folder), and the
    same reading what each of `skims` keeps."""
    out, opt, variants = Path(out), optimize_level.lower(), {}
    for student in students:
        name = f"{Path(student).name}-{opt}-int8"
        fp32 = export_onnx(student, out / f"{Path(student).name}-fp32")
        variants[name] = quantize_int8(optimize_onnx(fp32, out / f"{Path(student).name}-{opt}", optimize_level), out / name)
        for suffix, skim in (skims or {}).items():
            variants[f"{name}-{suffix}"] = with_skimming(variants[name], out / f"{name}-{suffix}", skim)
    return variants


def select_variants(variants: dict[str, Path], only: list[str]) -> dict[str, Path]:
    """The variants named in `only` (all when it is empty), always with the reference the gate compares
    against. An unknown name is an error that lists the known ones, not an empty benchmark."""
    unknown = sorted(set(only) - set(variants))
    if unknown:
        raise UnknownVariant(f"unknown variant(s) {', '.join(unknown)}; this run builds: {', '.join(variants)}")
    return {k: v for k, v in variants.items() if not only or k in only or k == REFERENCE}


def size_mb(folder: str | Path) -> float:
    """Size of the weights on disk (model.onnx or the safetensors), in MB."""
    folder = Path(folder)
    files = [folder / "model.onnx"] if (folder / "model.onnx").exists() else list(folder.glob("*.safetensors"))
    return sum(f.stat().st_size for f in files) / 1e6
