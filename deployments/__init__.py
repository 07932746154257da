"""Deployments: schedules and event triggers that run the flows on a Prefect server."""
