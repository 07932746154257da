"""Loading a text file with the checks every text format shares: present, not empty, UTF-8."""

from __future__ import annotations

import gzip
from pathlib import Path

from zeroxqa.errors import InputError


def load_text(path: str | Path) -> str:
    """Return the file's text (a UTF-8 BOM is allowed); raise `InputError` naming the first bad byte."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except OSError as e:
            raise InputError(path, f"not a valid gzip file ({e})") from None
    if not data.strip():
        raise InputError(path, "file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(
            path, f"not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} (line {line}); re-encode the file as UTF-8"
        ) from None


def row_problem(row: dict, problem: str, raw: object) -> dict:
    """Mark a row the reader could not parse, keeping what it read."""
    row["problem"] = problem
    row["raw"] = raw
    return row


def json_lines(text: str) -> list[str]:
    """The lines of a JSONL file: split on "\\n" (and "\\r\\n") only. `str.splitlines` also splits on U+2028,
    U+0085 and other characters that JSON allows raw inside a string, which would cut a valid record in two."""
    return [line.removesuffix("\r") for line in text.split("\n")]
