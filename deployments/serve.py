"""Register and serve the deployments on the Prefect server in PREFECT_API_URL:

- `retrain/nightly`: the retraining DAG every night at 02:00 (cron, server time zone UTC);
- `onboard-domain/on-domain-arrived`: runs when a `zeroxqa.domain.arrived` event arrives, with the
  event's payload as parameters (emitted by `zeroxqa watch INBOX` or `zeroxqa emit-domain`).

    python -m deployments.serve
"""

from __future__ import annotations

from prefect import serve

from deployments.triggers import domain_arrived_trigger
from flows.onboard import onboard_domain
from flows.retrain import retrain

NIGHTLY_CRON = "0 2 * * *"


def deployments() -> list:
    return [
        retrain.to_deployment(name="nightly", cron=NIGHTLY_CRON, tags=["zeroxqa"],
                              description="Retrain on all sources: shard, meta-train, fine-tune, quantize, benchmark."),
        onboard_domain.to_deployment(name="on-domain-arrived", triggers=[domain_arrived_trigger()], tags=["zeroxqa"],
                                     description="Onboard one new domain when its files arrive."),
    ]


if __name__ == "__main__":
    serve(*deployments())
