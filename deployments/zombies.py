"""Runs whose process died become Crashed by themselves, so that they can be retried from the UI.

A flow run served by `deployments.serve` emits a `prefect.flow-run.heartbeat` event every
PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds while it runs. A killed worker stops the heartbeats and leaves
the run Running forever (retry refuses a Running run, cancel waits for a process that is gone). This is
Prefect's own remedy for a self-hosted server: an automation that, for each flow run, expects another
heartbeat or a final state within a few heartbeat periods after the last heartbeat, and otherwise sets
the run Crashed.
"""

from __future__ import annotations

import os
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

ZOMBIE_AUTOMATION = "zeroxqa: crash zombie flow runs"
HEARTBEAT_SECONDS = 30  # the smallest period Prefect accepts
MISSED_HEARTBEATS = 3


def heartbeat_seconds() -> int:
    """The heartbeat period served flow runs use: PREFECT_FLOWS_HEARTBEAT_FREQUENCY, set to 30 s by
    `deployments.serve` unless the environment sets it."""
    return int(os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY") or HEARTBEAT_SECONDS)


def zombie_automation(heartbeat: int, missed: float = MISSED_HEARTBEATS) -> Automation:
    """`missed` heartbeat periods of silence make a run Crashed: fewer declare a dead run sooner, at the risk
    of crashing a live one whose heartbeat is late on a loaded server."""
    return Automation(
        name=ZOMBIE_AUTOMATION,
        description=f"A flow run that sent no heartbeat for {missed * heartbeat:g} s (its process died) "
                    "is marked Crashed, so it can be retried.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=missed * heartbeat),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message="no heartbeat from the flow run's process: marked Crashed; retry it")],
    )


def ensure_zombie_automation(heartbeat: int | None = None, missed: float = MISSED_HEARTBEATS) -> Automation:
    """Create the automation on the server in PREFECT_API_URL, or bring an existing one up to date."""
    wanted = zombie_automation(heartbeat or heartbeat_seconds(), missed)
    try:
        existing = Automation.read(name=ZOMBIE_AUTOMATION)
    except ValueError:
        return wanted.create()
    existing.trigger, existing.actions, existing.description = wanted.trigger, wanted.actions, wanted.description
    existing.update()
    return existing
