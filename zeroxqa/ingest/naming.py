"""Domain names become safe, readable file names: no path traversal, unicode letters kept,
collisions resolved deterministically (the same inputs always give the same names)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from typing import Iterable

MAX_LEN = 80  # characters
MAX_BYTES = 120  # UTF-8 bytes: file systems cap a name at 255 bytes, and a hash suffix and ".parquet" follow
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
_RESERVED = {"con", "prn", "aux", "nul", "manifest", "quarantine", "reconciliation"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)
}


def slug(name: str) -> str:
    """`../../etc` -> `etc`, `Université de Genève` -> `Université_de_Genève`."""
    s = unicodedata.normalize("NFC", name)
    s = _UNSAFE.sub("_", s)
    s = re.sub(r"_{2,}", "_", s)
    s = s.strip("._- ")
    s = s[:MAX_LEN].encode("utf-8")[:MAX_BYTES].decode("utf-8", errors="ignore").rstrip("._- ")
    if not s or s.lower() in _RESERVED:
        s = f"domain_{s}" if s else "domain"
    return s


def _tag(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]


def safe_names(domains: Iterable[str]) -> dict[str, str]:
    """Map every domain to a unique file-name stem; names that clash (case-insensitively, since some
    file systems fold case) all get a short hash of their original name appended."""
    groups: dict[str, list[str]] = defaultdict(list)
    for d in sorted(set(domains)):
        groups[slug(d).lower()].append(d)
    out: dict[str, str] = {}
    for members in groups.values():
        for d in members:
            out[d] = slug(d) if len(members) == 1 else f"{slug(d)}-{_tag(d)}"
    return out
