"""Meta-learning an initialization that adapts fast to unrelated domains (first-order MAML, Reptile)."""
