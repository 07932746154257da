"""Export, optimize and quantize readers with optimum and onnxruntime."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from zeroxqa.registry.atomic import atomic_dir
from zeroxqa.speed.export.cpu import quantization_preset
from zeroxqa.reader.model import CARD_FILE, read_card
from zeroxqa.quiet import quiet_libraries

if TYPE_CHECKING:
    from zeroxqa.config import SkimConfig

ONNX_FILE = "model.onnx"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def _finish(src_dir: Path, onnx_file: Path, out: Path, variant: dict, card_update: dict | None = None) -> Path:
    """Assemble a variant folder atomically: model.onnx, config, tokenizer, card with the variant recorded
    (and `card_update` applied)."""
    with atomic_dir(out) as tmp:
        shutil.copyfile(onnx_file, tmp / ONNX_FILE)
        for name in ("config.json", *TOKENIZER_FILES):
            if (src_dir / name).exists():
                shutil.copyfile(src_dir / name, tmp / name)
        card = {**read_card(src_dir), **(card_update or {})}
        card["variant"] = {**card.get("variant", {}), **variant}
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
    return out


def export_onnx(reader_dir: str | Path, out: str | Path) -> Path:
    """The plain fp32 ONNX export of a saved reader."""
    import warnings

    import torch
    from optimum.onnxruntime import ORTModelForQuestionAnswering

    from zeroxqa.reader.reference import whole_reader_dir

    out = Path(out)
    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as whole, warnings.catch_warnings(), \
            quiet_libraries():
        # the tracer's notes on constants in BERT's attention-mask code: expected for a fixed graph, and
        # noise to a person reading the main job's output
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        reader_dir = whole_reader_dir(reader_dir, Path(whole) / "reader")  # the shipped form: base tensors put back
        ORTModelForQuestionAnswering.from_pretrained(reader_dir, export=True).save_pretrained(work)
        return _finish(reader_dir, Path(work) / ONNX_FILE, out, {"format": "onnx", "precision": "fp32", "optimized": None})


def optimize_onnx(onnx_dir: str | Path, out: str | Path, level: Literal["O1", "O2", "O3"] = "O2") -> Path:
    """ONNX Runtime graph optimization (fused attention, GELU, layer norm) for the CPU."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig

    onnx_dir, out = Path(onnx_dir), Path(out)
    with tempfile.TemporaryDirectory() as work, quiet_libraries():
        optimizer = ORTOptimizer.from_pretrained(onnx_dir, file_names=[ONNX_FILE])
        optimizer.optimize(getattr(AutoOptimizationConfig, level)(for_gpu=False), save_dir=work)
        (optimized,) = Path(work).glob("*.onnx")
        return _finish(onnx_dir, optimized, out, {"optimized": level})


def quantize_int8(onnx_dir: str | Path, out: str | Path, preset: str | None = None) -> Path:
    """Dynamic int8 quantization with the preset of this CPU (or the one given), weights per output channel:
    one scale per tensor cost the reference reader 2.5 span F1 on held-out questions, one per channel 0.1,
    at the same speed (measured on the O2 graph, 2 cores, AVX-512 VNNI).

    optimum's quantizer fails on a graph ORT has already optimized (shape inference cannot type the
    fused nodes' outputs). For such a graph, onnxruntime's quantizer is called directly with a default
    tensor type (float), which lets it through; a plain export goes through optimum as usual.
    """
    onnx_dir, out = Path(onnx_dir), Path(out)
    preset = preset or quantization_preset()
    optimized = (read_card(onnx_dir).get("variant") or {}).get("optimized")
    variant = {"precision": "int8", "quantization": f"dynamic-{preset}", "per_channel": True}
    with tempfile.TemporaryDirectory() as work, quiet_libraries():
        if optimized:
            target = Path(work) / ONNX_FILE
            _quantize_with_default_type(onnx_dir / ONNX_FILE, target, preset)
            variant["quantizer"] = "onnxruntime (DefaultTensorType=float)"
        else:
            from optimum.onnxruntime import ORTQuantizer
            from optimum.onnxruntime.configuration import AutoQuantizationConfig

            config = getattr(AutoQuantizationConfig, preset)(is_static=False, per_channel=True)
            target = ORTQuantizer.from_pretrained(onnx_dir, file_name=ONNX_FILE).quantize(config, save_dir=work)
            target = next(Path(work).glob("*quantized*.onnx")) if Path(target).is_dir() else Path(target)
            variant["quantizer"] = "optimum"
        return _finish(onnx_dir, target, out, variant)


def calibration_texts(rows: list[dict], limit: int) -> tuple[list[str], list[str]]:
    """The questions and contexts of the first `limit` held-out rows: what static int8 calibrates its
    activation ranges on."""
    return [r["question"] for r in rows[:limit]], [r["context"] for r in rows[:limit]]


def quantize_static_int8(onnx_dir: str | Path, out: str | Path, questions: list[str], contexts: list[str],
                         per_channel: bool = True) -> Path:
    """Static int8 (QDQ): weights per channel and activations too, their ranges calibrated (min-max) on
    windows of the given calibration questions, so no range is computed at run time. Calibrate on data the
    reader will be evaluated against and the ranges are tuned to it: pass held-out training questions."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from zeroxqa.reader.batching import collate
    from zeroxqa.config import ReaderConfig
    from zeroxqa.reader.lean import FastTokenizer

    onnx_dir, out = Path(onnx_dir), Path(out)
    if not questions:
        raise ValueError("static quantization needs calibration questions")
    cfg = ReaderConfig(**read_card(onnx_dir).get("reader_config", {}))
    tokenizer = FastTokenizer(onnx_dir)
    features = tokenizer.features(questions, contexts, cfg)
    names = {i.name for i in onnx.load(onnx_dir / ONNX_FILE, load_external_data=False).graph.input}
    feeds = ({k: v for k, v in collate(features, [i], tokenizer.pad_token_id).items() if k in names}
             for i in range(len(features)))  # one window at a time, as the engine feeds the session

    class Windows(CalibrationDataReader):
        def get_next(self):
            return next(feeds, None)

    variant = {"precision": "int8", "quantization": "static-qdq-minmax", "per_channel": per_channel,
               "calibration_windows": len(features), "quantizer": "onnxruntime"}
    with tempfile.TemporaryDirectory() as work, quiet_libraries():
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(onnx_dir / ONNX_FILE, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, Path(work) / ONNX_FILE, Windows(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
        return _finish(onnx_dir, Path(work) / ONNX_FILE, out, variant)


def with_skimming(onnx_dir: str | Path, out: str | Path, skim: SkimConfig | int) -> Path:
    """The same ONNX reader, set to read only the best sentences of each paragraph (its card's "skim", which
    `QAEngine.load` applies; a learned ranker's weights travel in it): a variant the benchmark can measure and
    the gate promote. An int is a fixed number of sentences, lexically scored."""
    from zeroxqa.config import SkimConfig

    onnx_dir = Path(onnx_dir)
    cfg = SkimConfig(keep_sentences=skim) if isinstance(skim, int) else skim
    summary = {"keep_sentences": cfg.keep_sentences, "coverage": cfg.coverage,
               "ranker": cfg.ranker.get("card", {}).get("name", "custom") if cfg.ranker else "lexical"}
    return _finish(onnx_dir, onnx_dir / ONNX_FILE, Path(out), {"skim": summary}, {"skim": cfg.model_dump(exclude_none=True)})


def _quantize_with_default_type(src: Path, dst: Path, preset: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weight_type = QuantType.QUInt8 if preset == "arm64" else QuantType.QInt8
    quantize_dynamic(
        src, dst, weight_type=weight_type, per_channel=True, reduce_range=False,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
