"""Loading a text file with the checks every text format shares: present, not empty, UTF-8."""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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
        except (OSError, EOFError, zlib.error) as e:  # EOFError: a truncated file
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


@dataclass
class CsvRecord:
    line: int  # physical line (1-based) where the record starts
    values: list[str] | None  # None when the record could not be parsed
    problem: str | None = None
    raw: str | None = None  # the physical line of a record that could not be parsed


def csv_records(text: str) -> Iterator[CsvRecord]:
    """The records of a CSV text, header included, resynchronised after a malformed one.

    An unclosed quote makes a CSV parser read on into the next lines until some quote closes it, so one
    bad row would swallow the good rows after it. Here the bad record's first physical line alone is
    given up (returned as its raw text) and parsing starts again on the line after it."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    pos = 0
    while pos < len(lines):
        reader = csv.reader(iter(lines[pos:]), strict=True)
        consumed = 0  # lines of lines[pos:] read by the complete records so far
        try:
            for values in reader:
                yield CsvRecord(pos + consumed + 1, values)
                consumed = reader.line_num
            return
        except csv.Error as e:
            bad = pos + consumed
            yield CsvRecord(bad + 1, None, f"malformed CSV at line {bad + 1}: {e}", lines[bad].rstrip("\r\n"))
            pos = bad + 1
