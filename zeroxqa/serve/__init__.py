"""Serving the registry: `catalog` says what each domain is answered with, `store` loads it and swaps in
promotions while running, `schemas` are the API's request and response models, `app` is the FastAPI app
(with its page at `/`), `metrics` its Prometheus counters."""
