"""Content hashes of artifacts: a file's sha256, or a folder's (relative names and contents). The floor that
stage keys (`artifacts`) and registry entries (`store`) both stand on."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
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
