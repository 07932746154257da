"""What each domain is answered with, read from the registry: its promoted model (the accepted variant,
ONNX int8 where the gate took it) and the older promotions that may stand in for it, or the reference
reader where none is promoted; and its retrieval index.

Reading the catalog checks nothing on disk, so a server with hundreds of registered domains starts at
once; a model's content is checked against its recorded hash when it is loaded (`intact_model`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zeroxqa.registry.store import damage, load_registry, newest_intact


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
    fallbacks: tuple[dict, ...] = field(default=(), compare=False)  # older promotions (registry history), newest first

    @property
    def key(self) -> tuple:
        """What must be loaded again when it changes."""
        return self.model, self.sha256, self.index

    def served_as(self, record: dict, note: str | None) -> "DomainEntry":
        """This domain served by another model: an older promotion (a registry history record) or the default
        reader (`{"model": ...}`)."""
        return DomainEntry(self.domain, record["model"], record.get("accepted"), record.get("f1"), record.get("promoted_at"),
                           record.get("sha256"), self.index, note, ())


def intact_model(entry: DomainEntry, default_reader: str) -> DomainEntry:
    """The entry to load: itself when its model matches its recorded hash, else the newest older promotion
    that does, else the default reader; with a note saying what was passed over and why."""
    problem = damage({"model": entry.model, "sha256": entry.sha256})
    if problem is None:
        return entry
    old = newest_intact(entry.fallbacks)
    if old is not None:
        return entry.served_as(old, f"the current model was passed over: {problem}")
    return entry.served_as({"model": default_reader}, f"no intact promoted model ({problem}); the default reader answers")


def read_catalog(registry: str | Path, default_reader: str) -> dict[str, DomainEntry]:
    """Every domain with a promoted model or an index (or both), unverified (see `intact_model`)."""
    data = load_registry(registry)
    indexes = {d: v["index"] for d, v in data.get("indexes", {}).items()}
    out: dict[str, DomainEntry] = {}
    for domain, entry in data.get("domains", {}).items():
        history = tuple(h for h in reversed(entry.get("history", [])) if h.get("model") and not h.get("damaged"))
        out[domain] = DomainEntry(domain, entry["model"], entry.get("accepted"), entry.get("f1"), entry.get("promoted_at"),
                                  entry.get("sha256"), indexes.get(domain), None, history)
    for domain, index in indexes.items():
        out.setdefault(domain, DomainEntry(domain, default_reader, index=index, note="no promoted model; the default reader answers"))
    return dict(sorted(out.items()))
