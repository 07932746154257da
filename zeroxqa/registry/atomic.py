"""Atomic writes: a reader of an artifact sees the old file or the new one, never half of one."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

# tempfile makes files 0600 and folders 0700; an artifact should get the mode any new file gets (the umask),
# so that the rest of the team, or a Prefect worker running as another user, can read it
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE, DIR_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(FILE_MODE)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path`, on failure it is removed and
    `path` stays as it was. A reader never finds `path` missing: the two folders are swapped in one step
    (Linux `renameat2(RENAME_EXCHANGE)`), then the old one is removed. Concurrent writers each land whole,
    the last one winning (where the system cannot swap, the old folder is moved aside under a name of its
    own first, a moment without `path`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(DIR_MODE)
    try:
        yield tmp
        for f in tmp.rglob("*"):  # some writers (safetensors) create their files 0600 whatever the umask
            f.chmod(DIR_MODE if f.is_dir() else FILE_MODE)
        _put_in_place(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _put_in_place(new: Path, path: Path, attempts: int = 50) -> None:
    """Make the folder `new` be `path`; afterwards `new` holds the old folder (or nothing), to be removed."""
    for _ in range(attempts):
        if not path.exists():
            try:
                os.rename(new, path)
                return
            except OSError as e:  # another writer put its folder there first: swap with it instead
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue
        swapped = _exchange(new, path)
        if swapped:
            return
        if swapped is None:  # no atomic swap here: move the old one aside under a name of its own
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            try:
                os.replace(path, old)
            except FileNotFoundError:  # another writer moved it first
                old.rmdir()
                continue
            os.rename(new, path) if not path.exists() else None
            shutil.rmtree(old, ignore_errors=True)
            if not new.exists():
                return
    raise OSError(f"{path}: could not put the new folder in place after {attempts} attempts (concurrent writers)")


def _exchange(a: Path, b: Path) -> bool | None:
    """Swap two paths in one step: True when done, False when `b` vanished meanwhile, None where the system
    or file system cannot (not Linux, or renameat2 unsupported)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOENT:
        return False
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return None
    raise OSError(err, f"swapping {a} and {b}: {os.strerror(err)}")


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(obj: Any, path: str | Path) -> Path:
    return write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n", path)
