"""Making a reader fast, the export/quantize and benchmark/gate stages: ONNX export and int8 quantization
(`export`), context skimming with a learned sentence ranker (`skim`, `sentence_ranker`, `skim_eval`),
smaller students (`distill`), and every variant measured against the Hugging Face pipeline with the gate
that picks one (`bench`)."""
