"""The same deployments on a work pool, for a team whose runs go to `prefect worker start` processes
(one machine or many) instead of one `serve` process:

    prefect work-pool create zeroxqa --type process
    python -m deployments.deploy --pool zeroxqa      # registers retrain/nightly and onboard-domain/on-domain-arrived
    prefect worker start --pool zeroxqa              # on every machine that should run them (a checkout + venv)

A process worker runs each flow from this checkout (the deployments point at its folder), so every
worker machine needs the repository at the same path and its virtual environment.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from uuid import UUID

from prefect import flow

from deployments.serve import NIGHTLY_CRON, ONBOARD_DESCRIPTION, RETRAIN_DESCRIPTION
from deployments.triggers import domain_arrived_trigger
from deployments.zombies import ensure_zombie_automation

ROOT = Path(__file__).resolve().parent.parent


def deploy(pool: str, source: Path = ROOT) -> dict[str, UUID]:
    """Register both deployments on the work pool `pool` (it must exist), their code read from `source`."""
    retrain = flow.from_source(str(source), "flows/retrain.py:retrain")
    onboard = flow.from_source(str(source), "flows/onboard.py:onboard_domain")
    ids = {
        "retrain/nightly": retrain.deploy(name="nightly", work_pool_name=pool, cron=NIGHTLY_CRON, tags=["zeroxqa"],
                                          description=RETRAIN_DESCRIPTION, print_next_steps=False),
        "onboard-domain/on-domain-arrived": onboard.deploy(name="on-domain-arrived", work_pool_name=pool,
                                                           triggers=[domain_arrived_trigger()], tags=["zeroxqa"],
                                                           description=ONBOARD_DESCRIPTION,
                                                           print_next_steps=False),
    }
    ensure_zombie_automation()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", required=True, help="an existing work pool (prefect work-pool create NAME --type process)")
    args = parser.parse_args()
    for name, deployment_id in deploy(args.pool).items():
        print(f"{name}: {deployment_id} on work pool {args.pool}")


if __name__ == "__main__":
    main()
