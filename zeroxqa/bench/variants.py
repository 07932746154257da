"""Build the variants of a saved reader that the benchmark compares."""

from __future__ import annotations

from pathlib import Path

from zeroxqa.export.onnx import export_onnx, optimize_onnx, quantize_int8

REFERENCE = "torch-fp32"


def build_variants(reader_dir: str | Path, out: str | Path, optimize_level: str = "O2") -> dict[str, Path]:
    """name -> folder. The int8 model is quantized from the plain export (the reliable path); the optimized
    graph is quantized too, through the default-tensor-type fallback."""
    out = Path(out)
    fp32 = export_onnx(reader_dir, out / "onnx-fp32")
    optimized = optimize_onnx(fp32, out / f"onnx-{optimize_level.lower()}", optimize_level)
    return {
        REFERENCE: Path(reader_dir),
        "onnx-fp32": fp32,
        f"onnx-{optimize_level.lower()}": optimized,
        "onnx-int8": quantize_int8(fp32, out / "onnx-int8"),
        f"onnx-{optimize_level.lower()}-int8": quantize_int8(optimized, out / f"onnx-{optimize_level.lower()}-int8"),
    }


def size_mb(folder: str | Path) -> float:
    """Size of the weights on disk (model.onnx or the safetensors), in MB."""
    folder = Path(folder)
    files = [folder / "model.onnx"] if (folder / "model.onnx").exists() else list(folder.glob("*.safetensors"))
    return sum(f.stat().st_size for f in files) / 1e6
