"""Watching an inbox folder for new domain files and announcing them as `zeroxqa.domain.arrived` events.

A file is announced once (its name, size and modification time are remembered in `.zeroxqa-seen.json`
inside the inbox). The domain is the file name's stem; a file of questions (theme CSV, SQuAD JSON, MRQA
JSONL, Parquet) is sent as `labeled`, a file of paragraphs as `paragraphs`.
"""

from __future__ import annotations

import json
import time
import os
from pathlib import Path
from typing import Callable, Iterator

from zeroxqa.registry.atomic import write_json
from zeroxqa.errors import InputError
from zeroxqa.ingest.formats import detect_format, kind_of

EVENT = "zeroxqa.domain.arrived"
SEEN = ".zeroxqa-seen.json"


def given(value: str | None) -> str | None:
    """A templated event parameter: Jinja renders a missing payload field as "None" or ""."""
    return None if value is None or str(value).strip() in ("", "None", "null") else str(value)


OUT_ROOT_ENV = "ZEROXQA_OUT_ROOT"


def out_root() -> Path:
    """Where event-triggered runs may write: `$ZEROXQA_OUT_ROOT`, default `runs` under the working folder."""
    return Path(os.environ.get(OUT_ROOT_ENV) or "runs").resolve()


def onboard_inputs(domain: str, labeled: str | None, paragraphs: str | None, out: str | None) -> tuple[str | None, str | None, str]:
    """The onboarding flow's parameters as rendered from an event, checked before anything runs: whoever can
    emit an event must not choose where the flow writes or what it reads. `out` must lie under `out_root()`;
    each input must be an existing file; the domain a plain name. Returns (labeled, paragraphs, out)."""
    from zeroxqa.errors import InputError

    labeled, paragraphs = given(labeled), given(paragraphs)
    if not domain or len(domain) > 200 or any(c in domain for c in "/\\\0\n=") or domain in (".", ".."):
        raise InputError("domain", f"not a domain name: {domain[:100]!r} (1-200 characters, no / \\ = or newline)")
    root = out_root()
    target = Path(given(out) or root / "main").resolve()
    if not target.is_relative_to(root):
        raise InputError("out", f"{target} lies outside {root}, where event-triggered runs may write (set {OUT_ROOT_ENV})")
    for name, value in (("labeled", labeled), ("paragraphs", paragraphs)):
        if value is not None and not Path(value).is_file():
            raise InputError(value, f"the event's {name!r} input is not an existing file")
    return labeled, paragraphs, str(target)


def arrival_payload(path: Path, out: str) -> dict:
    kind = kind_of(detect_format(path))
    payload = {"domain": path.name.split(".")[0], "labeled": None, "paragraphs": None, "out": str(Path(out).resolve())}
    payload["labeled" if kind == "qa" else "paragraphs"] = str(path.resolve())
    return payload


def new_files(inbox: Path) -> Iterator[Path]:
    seen_path = inbox / SEEN
    seen = json.loads(seen_path.read_text()) if seen_path.exists() else {}
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        stamp = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
        if seen.get(path.name) != stamp:
            seen[path.name] = stamp
            write_json(seen, seen_path)
            yield path


def emit_domain_arrived(payload: dict) -> None:
    from prefect.events import emit_event

    emit_event(event=EVENT, resource={"prefect.resource.id": f"zeroxqa.domain.{payload['domain']}"}, payload=payload)


def watch(inbox: str | Path, out: str, emit: Callable[[dict], None] = emit_domain_arrived, interval: float = 5.0,
          once: bool = False, log: Callable[[str], None] = print) -> list[dict]:
    """Poll `inbox`; emit an event for each new or changed file. With `once`, one pass and return."""
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    sent = []
    while True:
        for path in new_files(inbox):
            try:
                payload = arrival_payload(path, out)
            except InputError as e:
                log(f"skipped {path}: {e}")
                continue
            emit(payload)
            sent.append(payload)
            log(f"{EVENT}: {payload['domain']} ({path.name})")
        if once:
            return sent
        time.sleep(interval)
