"""ONNX export, int8 quantization (including the optimized-graph trap), the engine, the benchmark and its gate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from zeroxqa.speed.bench.gate import HF_PIPELINE, decide
from zeroxqa.config import BenchConfig, ShardConfig
from zeroxqa.speed.export.cpu import quantization_preset
from zeroxqa.speed.export.onnx import export_onnx, optimize_onnx, quantize_int8
from zeroxqa.reader.features import prepare_features
from zeroxqa.reader.engine import QAEngine

from helpers import ROWS, SMALL, train_tiny_reader


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A tiny reader trained to answer ROWS perfectly, saved like any reader."""
    return train_tiny_reader(tmp_path_factory.mktemp("tiny") / "reader")


@pytest.fixture(scope="module")
def onnx_dirs(trained_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("onnx")
    fp32 = export_onnx(trained_dir, base / "fp32")
    o2 = optimize_onnx(fp32, base / "o2", "O2")
    return {"fp32": fp32, "o2": o2, "int8": quantize_int8(fp32, base / "int8"), "o2-int8": quantize_int8(o2, base / "o2-int8")}


def test_onnx_logits_match_torch(trained_dir, onnx_dirs):
    torch_engine, onnx_engine = QAEngine.load(trained_dir), QAEngine.load(onnx_dirs["fp32"])
    feats = prepare_features(torch_engine.tokenizer, [r["question"] for r in ROWS], [r["context"] for r in ROWS], SMALL)
    ts, te = torch_engine.window_logits(feats)
    os_, oe = onnx_engine.window_logits(feats)
    for a, b in zip(ts + te, os_ + oe):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_the_lean_onnx_engine_reads_like_the_torch_reader(trained_dir, onnx_dirs):
    """An ONNX folder is tokenized by `tokenizers` alone: the same windows as the transformers tokenizer,
    the same decoded spans as the torch reader, and neither torch nor transformers imported."""
    import subprocess
    import sys

    from zeroxqa.reader.lean import FastTokenizer
    from zeroxqa.ingest.sample import SQUAD_THEMES

    lean, torch_engine = QAEngine.load(onnx_dirs["fp32"]), QAEngine.load(trained_dir)
    assert isinstance(lean.tokenizer, FastTokenizer)
    questions, contexts = [r["question"] for r in ROWS], [r["context"] for r in ROWS]
    assert [(s.text, s.start) for s in lean.spans(questions, contexts)] == [(s.text, s.start) for s in torch_engine.spans(questions, contexts)]
    # windows of real paragraphs: long contexts overflow into several windows, a long question is cut
    doc = json.loads(SQUAD_THEMES.read_text())
    pairs = [(q["question"], p["context"]) for a in doc["data"] for p in a["paragraphs"][:3] for q in p["qas"][:2]]
    pairs[0] = ("  " + "why is that so " * 40, pairs[0][1])
    for cfg in (SMALL, SMALL.model_copy(update={"doc_stride": 0})):
        expected = prepare_features(torch_engine.tokenizer, [q for q, _ in pairs], [c for _, c in pairs], cfg)
        got = lean.tokenizer.features([q for q, _ in pairs], [c for _, c in pairs], cfg)
        assert len(got) > len(pairs)  # several windows for some
        assert (got.input_ids, got.token_type_ids, got.attention_mask, got.example_index, got.offsets) == (
            expected.input_ids, expected.token_type_ids, expected.attention_mask, expected.example_index, expected.offsets)
    code = ("import sys; from zeroxqa.reader.engine import QAEngine; "
            f"print(QAEngine.load({str(onnx_dirs['int8'])!r}).answer(['Where is the Eiffel Tower?'], ['The Eiffel Tower is in Paris.'])); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == "False False", out


def test_variants_carry_card_and_threshold(trained_dir, onnx_dirs):
    card = json.loads((onnx_dirs["o2-int8"] / "zeroxqa_card.json").read_text())
    original = json.loads((trained_dir / "zeroxqa_card.json").read_text())
    assert card["null_threshold"] == original["null_threshold"]
    assert card["variant"]["optimized"] == "O2" and card["variant"]["precision"] == "int8"
    assert card["variant"]["quantizer"].startswith("onnxruntime")  # the optimized graph took the fallback path
    assert (onnx_dirs["int8"] / "model.onnx").stat().st_size < (onnx_dirs["fp32"] / "model.onnx").stat().st_size


@pytest.mark.parametrize("variant", ["int8", "o2-int8", "o2"])
def test_quantized_and_optimized_models_answer_like_fp32(trained_dir, onnx_dirs, variant):
    questions, contexts = [r["question"] for r in ROWS], [r["context"] for r in ROWS]
    expected = QAEngine.load(onnx_dirs["fp32"]).answer(questions, contexts)
    assert expected == ["Paris", "Thames", "red", ""]
    assert QAEngine.load(onnx_dirs[variant]).answer(questions, contexts) == expected


def test_a_skimming_variant_is_loaded_with_its_setting(onnx_dirs, tmp_path):
    from zeroxqa.speed.export.onnx import with_skimming

    folder = with_skimming(onnx_dirs["o2-int8"], tmp_path / "skim2", 2)
    engine = QAEngine.load(folder)
    assert engine.skim is not None and engine.skim.keep_sentences == 2 and QAEngine.load(onnx_dirs["o2-int8"]).skim is None
    questions, contexts = [r["question"] for r in ROWS], [r["context"] for r in ROWS]
    assert engine.answer(questions, contexts) == QAEngine.load(onnx_dirs["o2-int8"]).answer(questions, contexts)  # one sentence each


def test_an_adaptive_skimming_variant_carries_its_ranker(onnx_dirs, tmp_path):
    """The learned ranker's weights travel in the variant's card: the folder alone reads as it was measured."""
    from zeroxqa.config import SkimConfig
    from zeroxqa.speed.export.onnx import with_skimming
    from zeroxqa.speed.sentence_ranker import packaged_ranker

    cfg = SkimConfig(keep_sentences=4, coverage=0.8, ranker=packaged_ranker())
    folder = with_skimming(onnx_dirs["o2-int8"], tmp_path / "adaptive", cfg)
    card = json.loads((folder / "zeroxqa_card.json").read_text())
    assert card["variant"]["skim"] == {"keep_sentences": 4, "coverage": 0.8, "ranker": "sentence_ranker"}
    loaded = QAEngine.load(folder)
    assert loaded.skim == cfg
    row = ROWS[1]
    context = f"Paris is the capital of France. {row['context']} Roses are often red. Everest is a mountain."
    assert loaded._skimmer()(row["question"], context).text == row["context"]  # the ranker is sure: one sentence
    assert loaded.answer([row["question"]], [context]) == QAEngine.load(onnx_dirs["o2-int8"]).answer([row["question"]], [row["context"]])


def test_export_writes_an_adaptive_skimming_variant_and_refuses_a_bad_ranker(trained_dir, tmp_path):
    from typer.testing import CliRunner

    from zeroxqa.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["export", "--model", str(trained_dir), "--out", str(tmp_path / "a"), "--optimize", "O2",
                                 "--skim-coverage", "0.9"])
    assert result.exit_code == 0, result.output
    skim = QAEngine.load(tmp_path / "a").skim
    assert skim.keep_sentences == 4 and skim.coverage == 0.9 and skim.ranker["card"]["name"] == "sentence_ranker"
    (tmp_path / "bad.json").write_text("{}")
    bad = runner.invoke(app, ["export", "--model", str(trained_dir), "--out", str(tmp_path / "b"), "--skim", "2",
                              "--skim-ranker", str(tmp_path / "bad.json")])
    assert bad.exit_code == 2 and "bad.json" in bad.output and not (tmp_path / "b").exists()


def test_static_int8_is_calibrated_and_answers_like_fp32(onnx_dirs, tmp_path):
    import onnx

    from zeroxqa.speed.export.onnx import quantize_static_int8

    questions, contexts = [r["question"] for r in ROWS], [r["context"] for r in ROWS]
    folder = quantize_static_int8(onnx_dirs["fp32"], tmp_path / "static", questions * 2, contexts * 2)
    ops = {n.op_type for n in onnx.load(folder / "model.onnx").graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ: activations quantized with calibrated ranges
    card = json.loads((folder / "zeroxqa_card.json").read_text())
    assert card["variant"]["quantization"] == "static-qdq-minmax" and card["variant"]["calibration_windows"] == 8
    assert QAEngine.load(folder).answer(questions, contexts) == QAEngine.load(onnx_dirs["fp32"]).answer(questions, contexts)
    with pytest.raises(ValueError):
        quantize_static_int8(onnx_dirs["fp32"], tmp_path / "none", [], [])


def test_export_makes_the_static_skimming_variant_with_its_own_threshold(trained_dir, tmp_path):
    """`export --calibrate-on`: static int8 (ranges from held-out questions), skimming on top, and the
    threshold set again on those questions, the variant the benchmark measures, made directly."""
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.evaluate import reference_abstention
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    runner, shards = CliRunner(), tmp_path / "shards"
    shard([SourceSpec(SQUAD_THEMES)], shards)
    result = runner.invoke(app, ["export", "--model", str(trained_dir), "--out", str(tmp_path / "s"), "--skim", "2",
                                 "--calibrate-on", str(shards)])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "s" / "zeroxqa_card.json").read_text())
    assert card["variant"]["quantization"] == "static-qdq-minmax" and card["skim"] == {"keep_sentences": 2}
    assert card["threshold_calibration"]["split"] == "calibration" and card["threshold_calibration"]["rows"] > 0
    assert QAEngine.load(tmp_path / "s").skim.keep_sentences == 2
    # its threshold makes it abstain on the held-out questions as often as the reader it came from does
    dev = load_rows([shards], "dev", None)
    assert card["threshold_calibration"]["method"] == "abstains as often as its reference"
    assert card["threshold_calibration"]["abstained"] == pytest.approx(reference_abstention(trained_dir, dev))
    optimized = runner.invoke(app, ["export", "--model", str(trained_dir), "--out", str(tmp_path / "o"), "--optimize", "O2",
                                    "--calibrate-on", str(shards)])
    assert optimized.exit_code == 2 and "plain export" in optimized.output
    shard([SourceSpec(SQUAD_THEMES)], tmp_path / "train_only", ShardConfig(dev_fraction=0.0))
    empty = runner.invoke(app, ["export", "--model", str(trained_dir), "--out", str(tmp_path / "e"),
                                "--calibrate-on", str(tmp_path / "train_only")])
    assert empty.exit_code == 2 and "no dev rows" in empty.output, empty.output


def test_quantization_preset_follows_the_cpu():
    assert quantization_preset({"avx2", "avx512f", "avx512_vnni"}, "x86_64") == "avx512_vnni"
    assert quantization_preset({"avx2", "avx512f"}, "x86_64") == "avx512"
    assert quantization_preset({"avx2", "fma"}, "x86_64") == "avx2"
    assert quantization_preset(set(), "aarch64") == "arm64"


def result(name: str, f1: float, p50: float) -> dict:
    return {"variant": name, "f1": f1, "p50_ms": p50}


def test_gate_accepts_int8_within_the_drop_and_rejects_beyond():
    ok = decide([result("torch-fp32", 80.0, 50), result("onnx-fp32", 80.0, 30), result("onnx-int8", 79.2, 15),
                 result(HF_PIPELINE, 79.0, 60)], max_f1_drop=1.0)
    assert ok.accepted == "onnx-int8"
    bad = decide([result("torch-fp32", 80.0, 50), result("onnx-fp32", 80.0, 30), result("onnx-o2", 79.9, 25),
                  result("onnx-int8", 77.0, 15)], max_f1_drop=1.0)
    assert bad.accepted == "onnx-o2"
    assert any("onnx-int8" in r and "rejected" in r for r in bad.reasons)
    assert "no int8 variant" in bad.reasons[-1]


def test_gate_rejects_a_variant_whose_spans_are_worse_even_when_its_threshold_hides_it():
    rows = [dict(result("torch-fp32", 54.3, 36), span_f1=72.7), dict(result("onnx-o2-int8-skim2", 53.8, 6.5), span_f1=68.5),
            dict(result("onnx-int8", 53.9, 18), span_f1=72.1), result(HF_PIPELINE, 49.9, 41)]
    decision = decide(rows, max_f1_drop=1.0)
    assert decision.accepted == "onnx-int8"  # the skimming variant is faster, but reads 4.2 span F1 worse
    assert any("onnx-o2-int8-skim2" in r and "span F1 68.50 (-4.20)" in r and "rejected" in r for r in decision.reasons)
    assert decision.passed == ["torch-fp32", "onnx-int8"]  # what the frontier plot draws in colour


def test_the_frontier_plot_rings_the_gates_choice_and_greys_what_it_rejected(tmp_path):
    from zeroxqa.speed.bench.report import frontier_figure, plot

    rows = [dict(result("torch-fp32", 54.3, 36), span_f1=72.7), dict(result("onnx-o2-int8-skim2", 53.8, 6.5), span_f1=68.5),
            dict(result("onnx-int8", 53.9, 18), span_f1=72.1), result(HF_PIPELINE, 49.9, 41)]
    decision = decide(rows)
    labels = {t.get_text(): t.get_color() for t in frontier_figure(rows, decision).axes[0].texts}
    assert labels["onnx-int8 (accepted)"] == "black"
    assert labels["onnx-o2-int8-skim2"] == labels[HF_PIPELINE] == "#888"  # rejected: spans 4.2 worse
    assert labels["torch-fp32"] == "black"
    for r in rows:
        r["latencies_ms"] = [r["p50_ms"]] * 3
    assert [p.name for p in plot(rows, tmp_path, decision)] == ["latency.png", "f1.png", "frontier.png"]


def test_only_the_named_variants_are_measured_with_the_reference_and_a_typo_is_named():
    from zeroxqa.speed.bench.variants import UnknownVariant, select_variants

    built = {n: Path(n) for n in ("torch-fp32", "onnx-fp32", "onnx-o2-int8", "onnx-int8-static", "onnx-int8-static-skim2")}
    assert select_variants(built, []) == built
    assert list(select_variants(built, ["onnx-int8-static-skim2"])) == ["torch-fp32", "onnx-int8-static-skim2"]
    with pytest.raises(UnknownVariant, match="onnx-int8-skim2.*this run builds: torch-fp32, onnx-fp32"):
        select_variants(built, ["onnx-int8-skim2"])


def test_bench_writes_report_parquet_and_plots(trained_dir, tmp_path):
    from zeroxqa.speed.bench.run import run_bench

    cfg = BenchConfig(latency_questions=5, warmup=1, batch_size=4, threads=1, skim_sentences=[1], students=[str(trained_dir)])
    out = run_bench(trained_dir, ROWS, tmp_path / "bench", cfg, data_label="ROWS", progress=lambda m: None,
                    calibration_rows=ROWS[:3] + ROWS[3:] * 2)
    table = pq.read_table(tmp_path / "bench" / "bench.parquet").to_pylist()
    names = [r["variant"] for r in table]
    assert names == [HF_PIPELINE, "torch-fp32", "onnx-fp32", "onnx-o2", "onnx-int8", "onnx-o2-int8", "onnx-int8-static",
                     "onnx-o2-int8-skim1", "onnx-int8-static-skim1",  # skimming on either int8 kind
                     "reader-o2-int8", "reader-o2-int8-skim1"]  # a student (the reader itself) too
    cards = {name: json.loads((folder / "zeroxqa_card.json").read_text()) for name, folder in out["variants"].items()}
    for name, card in cards.items():  # each variant's threshold set again on the calibration rows
        assert card["threshold_calibration"]["split"] == "calibration", name
        assert [r["threshold"] for r in table if r["variant"] == name] == [card["null_threshold"]]
    # the reference's by the best-F1 search; every other one abstains on as many of those rows as it does
    reference = cards.pop("torch-fp32")["threshold_calibration"]
    assert reference["method"] == "best F1"
    for name, card in cards.items():
        assert card["threshold_calibration"]["method"] == "abstains as often as its reference", name
        assert card["threshold_calibration"]["abstained"] == pytest.approx(reference["abstained"]), name
    assert out["variants"]["torch-fp32"] == tmp_path / "bench" / "reader"  # a copy: the reader's own card is untouched
    assert "threshold_calibration" not in json.loads((trained_dir / "zeroxqa_card.json").read_text())
    skimmed = json.loads((out["variants"]["onnx-o2-int8-skim1"] / "zeroxqa_card.json").read_text())
    assert skimmed["skim"] == {"keep_sentences": 1} and skimmed["variant"]["precision"] == "int8"
    static_skimmed = json.loads((out["variants"]["onnx-int8-static-skim1"] / "zeroxqa_card.json").read_text())
    assert static_skimmed["skim"] == {"keep_sentences": 1} and static_skimmed["variant"]["quantization"] == "static-qdq-minmax"
    by = {r["variant"]: r for r in table}
    assert by["torch-fp32"]["f1"] == 100.0 and by["onnx-int8"]["f1"] == 100.0
    assert all(r["p50_ms"] > 0 and r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] and r["peak_rss_mb"] > 0 for r in table)
    # where a question's milliseconds go: each stage timed, together about the whole (the HF pipeline is opaque)
    stages = ("skim_ms", "tokenize_ms", "infer_ms", "decode_ms")
    for r in table[1:]:
        assert all(r[s] >= 0 for s in stages) and r["infer_ms"] > 0 and sum(r[s] for s in stages) <= 2 * r["p50_ms"]
    assert by["onnx-o2-int8-skim1"]["skim_ms"] > by["onnx-o2-int8"]["skim_ms"]
    assert all(np.isnan(by[HF_PIPELINE][s]) for s in stages)
    # beside F1 at its own threshold, what no threshold moves: span F1, and the best F1 any threshold gets here
    for r in table[1:]:
        assert 0 <= r["span_f1"] <= 100 and r["f1"] - 1e-9 <= r["oracle_f1"] <= 100, r["variant"]
    assert by["torch-fp32"]["span_f1"] == 100.0 and np.isnan(by[HF_PIPELINE]["oracle_f1"])
    assert by["onnx-int8"]["size_mb"] < by["onnx-fp32"]["size_mb"]
    assert sum(r["accepted"] for r in table) == 1 and "int8" in out["decision"].accepted
    report = (tmp_path / "bench" / "report.md").read_text()
    assert "| onnx-int8 |" in report and "Gate: accepted" in report
    for png in ("latency.png", "f1.png", "frontier.png"):
        assert (tmp_path / "bench" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "bench" / "accepted.json").read_text())["accepted"] == out["decision"].accepted
