"""Stage 1 of the DAG, shard: input files (`formats`) -> validated rows (`validate`, quarantine for the rest)
-> per-domain Parquet shards of the canonical schema (`schema`), split by context (`splits`), with a manifest
and a reconciliation (`shard`). `dataset` and `paragraphs` read shards back; `sample` is the embedded sample."""
