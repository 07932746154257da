"""ZeroxQA: fast, domain-adapted extractive question-answering readers."""

__version__ = "0.1.0"
