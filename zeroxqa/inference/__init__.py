"""One inference engine for torch and ONNX readers (see `engine.py`)."""

from zeroxqa.inference.engine import OnnxBackend, QAEngine, TorchBackend

__all__ = ["OnnxBackend", "QAEngine", "TorchBackend"]
