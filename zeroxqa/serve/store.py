"""The models and indexes a server answers with: loaded on first use, at most `max_loaded` domains at once
(least recently used evicted, reloaded on demand), shared between domains that serve the same model, and
swapped while the server runs.

Nothing here imports torch: a reader is served in its lean form (ONNX with `tokenizers`; a saved torch
reader is exported once, in a child process, see `zeroxqa.speed.export.lean`), and questions are encoded
by the lean sentence encoder.

A background thread watches the registry file. When it changes, the catalog is read again (cheap: nothing
is hashed); a loaded domain whose model or index changed is loaded beside the old one and then swapped in,
so a request in flight finishes on the old model and the next one gets the new. A model is checked
against its recorded hash whenever it is loaded; a damaged one is never served (an older intact promotion
or the default reader stands in, and `/healthz` says so). A model or index that fails to load leaves the
old one serving; the failure is kept and reported.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zeroxqa.config import ServeConfig
from zeroxqa.reader.engine import QAEngine
from zeroxqa.retrieval.index import DomainIndex
from zeroxqa.registry.store import newest_intact
from zeroxqa.serve.catalog import DomainEntry, intact_model, read_catalog

log = logging.getLogger("zeroxqa.serve")


@dataclass(frozen=True)
class Served:
    entry: DomainEntry  # what serves (an older promotion or the default reader when the current one is damaged)
    engine: QAEngine
    index: DomainIndex | None
    registered: tuple = ()  # the key of the registry entry it was loaded for


def default_threads(cfg: ServeConfig) -> int:
    return cfg.threads or max(1, (os.cpu_count() or 1) // cfg.workers)


def load_lean_engine(model: str, threads: int | None, arena: bool = True) -> QAEngine:
    """A reader in its lean form: ONNX on onnxruntime, tokenized by `tokenizers`; never torch. Domains' readers
    load without a memory arena (see `OnnxBackend`): many are held, each is used less often."""
    from zeroxqa.reader.paths import check_model_dir, resolve_model_path
    from zeroxqa.speed.export.lean import is_lean, lean_reader

    if not is_lean(resolve_model_path(model)):
        model = check_model_dir(model)  # a damaged folder fails here, not after a child process tried to export it
    return QAEngine.load(lean_reader(model), threads=threads, arena=arena)


def release_memory() -> None:
    """Give freed memory back to the system. An unloaded model's sessions are freed, but glibc keeps the
    pages in its arenas: measured, 6 loads of a 23 MB int8 reader with 2 kept left RSS 132 MB over where it
    started, 63 MB after `malloc_trim` (about the 2 kept). Elsewhere than glibc: nothing to do."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class ModelStore:
    def __init__(self, cfg: ServeConfig, load_engine: Callable[[str], QAEngine] | None = None,
                 load_index: Callable[[str], DomainIndex] | None = None):
        self.cfg = cfg
        threads = default_threads(cfg)
        self._load_engine = load_engine or (lambda path: load_lean_engine(path, threads, arena=path == cfg.reader))
        self._load_index = load_index or DomainIndex.load
        self.catalog: dict[str, DomainEntry] = {}  # every registered domain (replaced, never changed in place)
        self._loaded: OrderedDict[str, Served] = OrderedDict()  # least recently used first
        self._engines: dict[tuple, QAEngine] = {}  # shared by the domains that serve the same model
        self._lock = threading.RLock()  # guards _loaded and _engines; never held while a model loads
        self._loading: dict[str, threading.Lock] = {}
        self.reader: QAEngine | None = None
        self.errors: dict[str, str] = {}
        self.swaps = self.loads = self.evictions = 0
        self.on_swap: Callable[[str], None] = lambda domain: None
        self.on_failure: Callable[[str], None] = lambda domain: None
        self._signature: tuple | None = None
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what requests read -------------------------------------------------------------------------
    def domains(self) -> dict[str, DomainEntry]:
        """Every registered domain (loaded or not)."""
        return self.catalog

    def is_loaded(self, domain: str) -> bool:
        return domain in self._loaded

    def if_loaded(self, domain: str) -> Served | None:
        """The domain's model and index when they are in memory (loading nothing, touching no LRU order)."""
        return self._loaded.get(domain)

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def get(self, domain: str) -> Served | None:
        """The domain's model and index, loaded now if it is not (None: not a registered domain). Called from
        a worker thread: a first load takes as long as loading a model does."""
        with self._lock:
            found = self._loaded.get(domain)
            if found is not None:
                self._loaded.move_to_end(domain)
                return found
            if domain not in self.catalog:
                return None
            gate = self._loading.setdefault(domain, threading.Lock())
        with gate:  # one load per domain, however many requests ask for it at once
            with self._lock:
                if domain in self._loaded:
                    self._loaded.move_to_end(domain)
                    return self._loaded[domain]
                entry = self.catalog.get(domain)
            if entry is None:
                return None
            served = self._load(entry)  # raises: the request fails (500 with the reason), nothing is cached
            with self._lock:
                self._loaded[domain] = served
                self.loads += 1
                self._evict()
            return served

    # --- loading ------------------------------------------------------------------------------------
    def _engine(self, model: str, sha256: str | None) -> QAEngine:
        key = (model, sha256)
        with self._lock:
            if key in self._engines:
                return self._engines[key]
        engine = self._load_engine(model)
        with self._lock:
            return self._engines.setdefault(key, engine)

    def _load(self, entry: DomainEntry) -> Served:
        """Load what `entry` names, its model first checked against its hash."""
        served_entry = intact_model(entry, self.cfg.reader)
        if served_entry.note and served_entry.model != entry.model:
            self.errors[entry.domain] = served_entry.note
            self.on_failure(entry.domain)
            log.error("domain %s: %s", entry.domain, served_entry.note)
        elif entry.domain in self.errors:
            self.errors.pop(entry.domain, None)
        try:
            engine = self._engine(served_entry.model, served_entry.sha256)
        except Exception as e:  # noqa: BLE001  (a model that fails to load: an older promotion or the default reader)
            problem = f"{served_entry.model}: {type(e).__name__}: {e}"
            stand_in = newest_intact(c for c in entry.fallbacks if c["model"] != served_entry.model)
            served_entry = entry.served_as(stand_in or {"model": self.cfg.reader}, f"the current model failed to load: {problem}")
            self.errors[entry.domain] = problem
            self.on_failure(entry.domain)
            log.error("domain %s: %s; serving %s", entry.domain, problem, served_entry.model)
            engine = self._engine(served_entry.model, served_entry.sha256)
        index = self._load_index(entry.index) if entry.index else None
        if index is not None:
            index.search("warm up", 1)  # the question encoder, now rather than in the timed request
        return Served(served_entry, engine, index, entry.key)

    def _evict(self) -> None:
        """Drop least recently used domains beyond `max_loaded`, then the engines no loaded domain uses."""
        evicted = 0
        while len(self._loaded) > self.cfg.max_loaded:
            domain, _ = self._loaded.popitem(last=False)
            self.evictions += 1
            evicted += 1
            log.info("domain %s: unloaded (least recently used of %d loaded)", domain, self.cfg.max_loaded + 1)
        used = {(s.entry.model, s.entry.sha256) for s in self._loaded.values()} | {(self.cfg.reader, None)}
        self._engines = {k: v for k, v in self._engines.items() if k in used}
        if evicted:
            release_memory()

    def _registry_signature(self) -> tuple | None:
        path = Path(self.cfg.registry)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def refresh(self, force: bool = False) -> bool:
        """Read the registry again if it changed; loaded domains whose model or index changed are loaded
        anew and swapped in. True when the catalog was replaced."""
        with self._refreshing:
            if self.reader is None:
                self.reader = self._engine(self.cfg.reader, None)
            signature = self._registry_signature()
            if signature == self._signature and not force:
                return False
            catalog = read_catalog(self.cfg.registry, self.cfg.reader) if signature is not None else {}
            self._signature = signature
            with self._lock:
                current = dict(self._loaded)
            swapped: dict[str, Served] = {}
            for domain, old in current.items():
                entry = catalog.get(domain)
                if entry is None or old.registered == entry.key:
                    continue  # metadata may change (F1, dates); what loads has not
                try:
                    swapped[domain] = self._load(entry)
                except Exception as e:  # noqa: BLE001  (any failure: keep serving the old one)
                    self.errors[domain] = f"{entry.model}: {type(e).__name__}: {e}"
                    log.error("domain %s: could not load %s (%s); the previous model keeps serving", domain, entry.model, e)
                    self.on_failure(domain)
            with self._lock:
                self.catalog = catalog
                for domain in list(self._loaded):
                    if domain not in catalog:
                        del self._loaded[domain]  # no longer registered
                    elif domain in swapped:
                        self._loaded[domain] = swapped[domain]
                self._evict()
            for domain in swapped:
                self.swaps += 1
                log.info("domain %s: now served by %s", domain, swapped[domain].entry.model)
                self.on_swap(domain)
            return True

    def start(self) -> None:
        """Load the default reader and the question encoder, read the registry, then watch it in a background
        thread. Domains load when first asked."""
        self.refresh(force=True)
        if any(e.index for e in self.catalog.values()):
            from zeroxqa.config import RetrievalConfig
            from zeroxqa.retrieval.encoder import question_encoder

            try:
                question_encoder(RetrievalConfig().encoder)
            except FileNotFoundError:  # a hub encoder: loaded with the first index that uses it
                pass
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
