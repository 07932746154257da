"""Saved reader -> ONNX (optimum) -> optional graph optimization -> dynamic int8 quantization.

Every variant is a folder the inference engine can load: `model.onnx`, `config.json`, the tokenizer and
the reader's card (with its no-answer threshold and a `variant` entry saying how it was made)."""
