"""The register stage and what it stands on: the registry of each domain's current reader and index
(`store`, re-exported here), content-addressed stage folders (`artifacts`, `hashing`) and atomic writes
(`atomic`)."""

from zeroxqa.registry.store import (Promotion, damage, good_entry, load_registry, model_sha256, promote, record_index,
                                    record_meta_model, registry_lock)

__all__ = ["Promotion", "damage", "good_entry", "load_registry", "model_sha256", "promote", "record_index",
           "record_meta_model", "registry_lock"]
