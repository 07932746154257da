"""The canonical QA record, defined once as a pyarrow schema, and the tables that travel beside it.

Every reader produces rows of `QA_SCHEMA`; every later stage (features, training, synthesis, evaluation)
reads it. Unlabeled paragraphs use `PARAGRAPH_SCHEMA`; rejected rows use `QUARANTINE_SCHEMA`.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

ANSWER_TYPE = pa.struct([("text", pa.string()), ("start", pa.int64())])
SOURCE_TYPE = pa.struct([("file", pa.string()), ("row", pa.int64())])

QA_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("context_id", pa.string()),
        ("context", pa.string()),
        ("question", pa.string()),
        ("answers", pa.list_(ANSWER_TYPE)),
        ("is_impossible", pa.bool_()),
        ("source", SOURCE_TYPE),
        ("split", pa.string()),
    ]
)

PARAGRAPH_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("context_id", pa.string()),
        ("context", pa.string()),
        ("source", SOURCE_TYPE),
        ("split", pa.string()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source", SOURCE_TYPE),
        ("domain", pa.string()),
        ("id", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),  # the row as read, JSON-encoded, so nothing is lost
    ]
)

SPLITS = ("train", "dev")


def context_id(domain: str, context: str) -> str:
    """A stable id of a paragraph within its domain: splits group by it, so no context straddles train and dev."""
    return hashlib.sha1(f"{domain}\x00{context}".encode("utf-8")).hexdigest()[:16]


def qa_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=QA_SCHEMA)


def paragraph_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=PARAGRAPH_SCHEMA)


def quarantine_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)
