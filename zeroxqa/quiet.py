"""Library notes that tell a person reading a job's output nothing they can act on: transformers'
deprecation notes (optimum passes `torch_dtype`), the pipeline's "Device set to use cpu", onnxruntime's
advice to pre-process a model before quantizing it (logged on the root logger). Errors still show."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def quiet_libraries() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    hf_level, root = hf_logging.get_verbosity(), logging.getLogger()
    root_level = root.level
    hf_logging.set_verbosity_error()
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hf_logging.set_verbosity(hf_level)
        root.setLevel(root_level)
