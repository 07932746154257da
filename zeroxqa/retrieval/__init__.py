"""Retrieval within a domain: find the paragraphs that may answer a question (BM25, dense vectors, their
fusion), then read them. `index` builds and loads a domain's index, `fusion` merges rankings, `ask` answers
a question of a domain, `evaluate` measures recall and end-to-end EM/F1."""
