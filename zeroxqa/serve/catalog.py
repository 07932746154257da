"""What each domain is answered with, read from the registry: its promoted model (the accepted variant,
ONNX int8 where the gate took it), or the reference reader where none is promoted or the promoted one no
longer matches its recorded hash; and its retrieval index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zeroxqa.registry.store import good_entry, load_registry


@dataclass(frozen=True)
class DomainEntry:
    domain: str
    model: str
    variant: str | None = None  # the benchmark's accepted variant (None: the default reader)
    f1: float | None = None
    promoted_at: str | None = None
    sha256: str | None = None
    index: str | None = None
    note: str | None = None  # why the served model is not the registered one, if it is not

    @property
    def key(self) -> tuple:
        """What must be loaded again when it changes."""
        return self.model, self.sha256, self.index


def read_catalog(registry: str | Path, default_reader: str) -> dict[str, DomainEntry]:
    """Every domain with a promoted model or an index (or both)."""
    data = load_registry(registry)
    indexes = {d: v["index"] for d, v in data.get("indexes", {}).items()}
    out: dict[str, DomainEntry] = {}
    for domain, entry in data.get("domains", {}).items():
        good, problem = good_entry(entry)
        if good is None:
            out[domain] = DomainEntry(domain, default_reader, index=indexes.get(domain),
                                      note=f"no intact promoted model ({problem}); the default reader answers")
            continue
        out[domain] = DomainEntry(domain, good["model"], good.get("accepted"), good.get("f1"), good.get("promoted_at"),
                                  good.get("sha256"), indexes.get(domain),
                                  note=f"the current model was passed over: {problem}" if problem else None)
    for domain, index in indexes.items():
        out.setdefault(domain, DomainEntry(domain, default_reader, index=index, note="no promoted model; the default reader answers"))
    return dict(sorted(out.items()))
