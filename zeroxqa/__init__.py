"""ZeroxQA: fast, domain-adapted extractive question-answering readers.

The package is laid out by stage of the DAG (see docs/architecture.md): `ingest`, `synth`, `meta`,
`reader`, `adapt`, `speed`, `registry`, `retrieval`, `serve`, `cli`. Modules that lived at the top level
before that layout still import under their old names for one release, with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

__version__ = "0.1.0"

# old import path -> new one (a package moved with its submodules: `zeroxqa.export.onnx` follows `zeroxqa.export`)
MOVED = {
    "zeroxqa.readers": "zeroxqa.ingest.formats", "zeroxqa.validate": "zeroxqa.ingest.validate",
    "zeroxqa.schema": "zeroxqa.ingest.schema", "zeroxqa.splits": "zeroxqa.ingest.splits",
    "zeroxqa.shard": "zeroxqa.ingest.shard", "zeroxqa.sample": "zeroxqa.ingest.sample",
    "zeroxqa.naming": "zeroxqa.ingest.naming", "zeroxqa.dataset": "zeroxqa.ingest.dataset",
    "zeroxqa.paragraphs": "zeroxqa.ingest.paragraphs", "zeroxqa.model": "zeroxqa.reader.model",
    "zeroxqa.features": "zeroxqa.reader.features", "zeroxqa.decode": "zeroxqa.reader.decode",
    "zeroxqa.train": "zeroxqa.reader.train", "zeroxqa.evaluate": "zeroxqa.reader.evaluate",
    "zeroxqa.metrics": "zeroxqa.reader.metrics", "zeroxqa.reference": "zeroxqa.reader.reference",
    "zeroxqa.checkpoint": "zeroxqa.reader.checkpoint", "zeroxqa.batching": "zeroxqa.reader.batching",
    "zeroxqa.card": "zeroxqa.reader.card", "zeroxqa.negatives": "zeroxqa.reader.negatives",
    "zeroxqa.inference": "zeroxqa.reader.engine", "zeroxqa.inference.engine": "zeroxqa.reader.engine",
    "zeroxqa.inference.lean": "zeroxqa.reader.lean", "zeroxqa.adapt_lm": "zeroxqa.adapt.lm",
    "zeroxqa.average": "zeroxqa.adapt.average", "zeroxqa.export": "zeroxqa.speed.export",
    "zeroxqa.bench": "zeroxqa.speed.bench", "zeroxqa.skim": "zeroxqa.speed.skim",
    "zeroxqa.skim_eval": "zeroxqa.speed.skim_eval", "zeroxqa.sentence_ranker": "zeroxqa.speed.sentence_ranker",
    "zeroxqa.distill": "zeroxqa.speed.distill", "zeroxqa.terms": "zeroxqa.retrieval.terms",
    "zeroxqa.artifacts": "zeroxqa.registry.artifacts", "zeroxqa.atomic": "zeroxqa.registry.atomic",
}


def moved_to(name: str) -> str | None:
    """The new import path of a module imported under its old one, or None."""
    if name in MOVED:
        return MOVED[name]
    parent, _, child = name.rpartition(".")
    return f"{MOVED[parent]}.{child}" if parent in MOVED else None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as the module it moved to (the same object, so patches and isinstance
    checks agree), warning once per name."""

    def find_spec(self, fullname, path=None, target=None):
        new = moved_to(fullname)
        return importlib.machinery.ModuleSpec(fullname, self) if new else None

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        new = moved_to(module.__name__)
        warnings.warn(f"{module.__name__} moved to {new}; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)
        sys.modules[module.__name__] = importlib.import_module(new)


sys.meta_path.insert(0, _MovedModules())  # before the path finder: a moved package's submodules must not load twice
