"""One call from paragraph files to a synthetic shard folder: what the CLI and the pipeline stage run."""

from __future__ import annotations

from pathlib import Path

from zeroxqa.config import SynthConfig
from zeroxqa.ingest.paragraphs import load_paragraphs
from zeroxqa.synth.generate import SynthResult, synthesize
from zeroxqa.synth.io import write_synth
from zeroxqa.synth.questions import make_generator


def synth_domain(inputs: list[str], domain: str | None, reader: str | None, out: str | Path,
                 cfg: SynthConfig | None = None, threads: int | None = None) -> SynthResult:
    """Generate, filter with `reader` (a saved reader or ONNX folder; None: no round-trip filter and
    lexical-only negatives) and write OUT. Returns the result with its counts."""
    cfg = cfg or SynthConfig()
    paragraphs = load_paragraphs(inputs, domain)
    domain = paragraphs[0]["domain"] if paragraphs else (domain or "unknown")
    engine = None
    if reader is not None:
        from zeroxqa.reader.engine import QAEngine

        engine = QAEngine.load(reader, threads=threads)
    generator = make_generator(cfg.generator, cfg.qg_prompt, cfg.qg_batch_size)
    result = synthesize(paragraphs, cfg, generator, engine)
    meta = {"config": cfg.model_dump(), "reader": reader, "generator": generator.name, "inputs": [str(i) for i in inputs]}
    write_synth(result, out, domain, meta)
    return result
