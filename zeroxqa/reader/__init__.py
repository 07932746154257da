"""The reader core, used by every stage: loading and saving (`model`, `paths`, `compact`, `card`), text to
windows (`features`), logits to answers with the no-answer decision (`decode`), one engine for torch and
ONNX (`engine`, `lean`), training (`train`, `batching`, `checkpoint`, `negatives`), SQuAD metrics and
evaluation (`metrics`, `evaluate`), and the reference reader shipped in the package (`reference`)."""
