"""Synthetic QA for paragraphs without questions (see `run.synth_domain`)."""
