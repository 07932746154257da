"""Register and serve the deployments on the Prefect server in PREFECT_API_URL:

- `retrain/nightly`: the retraining DAG every night at 02:00 (cron, server time zone UTC);
- `onboard-domain/on-domain-arrived`: runs when a `zeroxqa.domain.arrived` event arrives, with the
  event's payload as parameters (emitted by `zeroxqa watch INBOX` or `zeroxqa emit-domain`);

and the automation that marks a run Crashed when its process died (see `deployments.zombies`).

    python -m deployments.serve
"""

from __future__ import annotations

import os

from deployments.triggers import domain_arrived_trigger
from deployments.zombies import HEARTBEAT_SECONDS, ensure_zombie_automation
from flows.onboard import onboard_domain
from flows.retrain import retrain

NIGHTLY_CRON = "0 2 * * *"
RETRAIN_DESCRIPTION = ("Retrain on all sources: shard, (meta-train, when meta_learn is on), fine-tune per out-domain, "
                       "quantize, benchmark, register, index.")
ONBOARD_DESCRIPTION = "Onboard one new domain when its files arrive."


def deployments() -> list:
    return [
        retrain.to_deployment(name="nightly", cron=NIGHTLY_CRON, tags=["zeroxqa"],
                              description=RETRAIN_DESCRIPTION),
        onboard_domain.to_deployment(name="on-domain-arrived", triggers=[domain_arrived_trigger()], tags=["zeroxqa"],
                                     description=ONBOARD_DESCRIPTION),
    ]


def main() -> None:
    # the served runs inherit this: they beat every 30 s, so a dead one is marked Crashed within ~90 s
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS))
    from prefect import serve

    ensure_zombie_automation()
    serve(*deployments())


if __name__ == "__main__":
    main()
