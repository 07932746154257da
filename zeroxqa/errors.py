"""Errors that name the file (and, where there is one, the row and field) that caused them."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A whole input file cannot be used: missing, unknown format, missing columns, not UTF-8, empty."""

    def __init__(self, path: str | Path, problem: str, *, row: int | None = None, field: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.row = row
        self.field = field
        where = self.path
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
