"""The event that onboards a new domain, and how its payload becomes the onboarding flow's parameters."""

from __future__ import annotations

from prefect.events import DeploymentEventTrigger

DOMAIN_ARRIVED = "zeroxqa.domain.arrived"

# Each flow parameter is rendered from the event with Prefect's Jinja templating.
ONBOARD_PARAMETERS = {
    "domain": "{{ event.payload.domain }}",
    "labeled": "{{ event.payload.labeled }}",
    "paragraphs": "{{ event.payload.paragraphs }}",
    "out": "{{ event.payload.out }}",
}


def domain_arrived_trigger() -> DeploymentEventTrigger:
    return DeploymentEventTrigger(
        name="zeroxqa-domain-arrived",
        expect={DOMAIN_ARRIVED},
        match={"prefect.resource.id": "zeroxqa.domain.*"},
        parameters=ONBOARD_PARAMETERS,
    )
