"""Content hashes of artifacts: a file's sha256, or a folder's (relative names and contents). The floor that
stage keys (`artifacts`) and registry entries (`store`) both stand on."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


_KNOWN: dict[tuple, str] = {}  # (path, size, mtime_ns, inode) -> sha256, for this process


def file_sha256(path: str | Path, fresh: bool = False) -> str:
    """sha256 of a file's content, remembered by (path, size, mtime, inode): a file rewritten in any way
    (a byte flipped in place changes its mtime) is hashed again, an unchanged one is not; `fresh` reads
    it again whatever its stat says (a deep check: an mtime can be set back by hand)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if fresh or key not in _KNOWN:
        _KNOWN[key] = _sha256_of(path)
    return _KNOWN[key]


def _sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def content_hash(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted, hidden files skipped)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: artifact not found")
    if path.is_file():
        return file_sha256(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(path).parts))
    listing = "\n".join(f"{f.relative_to(path)}\t{file_sha256(f)}" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()
