"""Prefect flows: they only wire tasks together (shard -> synthetic QA -> meta-train -> fine-tune per
out-domain -> quantize -> benchmark). No logic lives here; it lives in `zeroxqa/`."""
