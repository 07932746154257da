"""The models and indexes a server answers with, loaded once and shared, and swapped while it runs.

A background thread watches the registry file. When it changes, the domains whose model or index changed
are loaded beside the running ones; then the whole table is replaced in one assignment. A request holds
the table it started with, so a request in flight finishes on the old model and the next one gets the new.
A model or index that fails to load leaves the old one serving; the failure is kept and reported.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zeroxqa.config import ServeConfig
from zeroxqa.reader.engine import QAEngine
from zeroxqa.retrieval.index import DomainIndex
from zeroxqa.serve.catalog import DomainEntry, read_catalog

log = logging.getLogger("zeroxqa.serve")


@dataclass(frozen=True)
class Served:
    entry: DomainEntry
    engine: QAEngine
    index: DomainIndex | None


def default_threads(cfg: ServeConfig) -> int:
    return cfg.threads or max(1, (os.cpu_count() or 1) // cfg.workers)


class ModelStore:
    def __init__(self, cfg: ServeConfig, load_engine: Callable[[str], QAEngine] | None = None,
                 load_index: Callable[[str], DomainIndex] | None = None):
        self.cfg = cfg
        threads = default_threads(cfg)
        self._load_engine = load_engine or (lambda path: QAEngine.load(path, threads=threads))
        self._load_index = load_index or DomainIndex.load
        self._engines: dict[tuple, QAEngine] = {}  # shared by the domains that serve the same model
        self._domains: dict[str, Served] = {}
        self.reader: QAEngine | None = None
        self.errors: dict[str, str] = {}
        self.swaps = 0
        self.on_swap: Callable[[str], None] = lambda domain: None
        self.on_failure: Callable[[str], None] = lambda domain: None
        self._signature: tuple | None = None
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what requests read -------------------------------------------------------------------------
    def domains(self) -> dict[str, Served]:
        """The current table (a snapshot: it is replaced, never changed in place)."""
        return self._domains

    def get(self, domain: str) -> Served | None:
        return self._domains.get(domain)

    # --- loading ------------------------------------------------------------------------------------
    def _engine(self, model: str, sha256: str | None) -> QAEngine:
        key = (model, sha256)
        if key not in self._engines:
            self._engines[key] = self._load_engine(model)
        return self._engines[key]

    def _registry_signature(self) -> tuple | None:
        path = Path(self.cfg.registry)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def refresh(self, force: bool = False) -> bool:
        """Load what the registry names now, if it changed; True when the table was replaced."""
        with self._refreshing:
            if self.reader is None:
                self.reader = self._engine(self.cfg.reader, None)
            signature = self._registry_signature()
            if signature == self._signature and not force:
                return False
            self._signature = signature
            catalog = read_catalog(self.cfg.registry, self.cfg.reader) if signature is not None else {}
            current, table, changed = self._domains, {}, []
            for domain, entry in catalog.items():
                old = current.get(domain)
                if old is not None and old.entry.key == entry.key:
                    table[domain] = Served(entry, old.engine, old.index)  # metadata may change (F1, dates)
                    continue
                try:
                    engine = self._engine(entry.model, entry.sha256)
                    index = self._load_index(entry.index) if entry.index else None
                    if index is not None:
                        index.search("warm up", 1)  # loads the sentence encoder now, not in the first request
                except Exception as e:  # noqa: BLE001  (any failure: keep serving the old one)
                    self.errors[domain] = f"{entry.model}: {type(e).__name__}: {e}"
                    log.error("domain %s: could not load %s (%s); %s", domain, entry.model, e,
                              "the previous model keeps serving" if old else "not served")
                    self.on_failure(domain)
                    if old is not None:
                        table[domain] = old
                    continue
                self.errors.pop(domain, None)
                table[domain] = Served(entry, engine, index)
                changed.append(domain)
            self._domains = table  # the swap: one assignment
            used = {(s.entry.model, s.entry.sha256) for s in table.values()} | {(self.cfg.reader, None)}
            self._engines = {k: v for k, v in self._engines.items() if k in used}
            for domain in changed:
                if domain in current:
                    self.swaps += 1
                    log.info("domain %s: now served by %s", domain, table[domain].entry.model)
                self.on_swap(domain)
            return True

    def start(self) -> None:
        """Load now, then watch the registry in a background thread."""
        self.refresh(force=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="zeroxqa-registry-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.cfg.reload_interval_s):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001  (a half-written or broken registry must not stop the watcher)
                log.exception("reading the registry %s failed; serving what was loaded", self.cfg.registry)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
