"""Against a real `prefect server start` (a temporary one, on its own port and home): the nightly
deployment gets scheduled runs, and a run whose serving process is killed becomes Crashed by itself and
can then be retried to completion."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, every: float = 1.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Prefect server with its scheduler looping every 2 s (60 s by default), in a home of its own."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false", "PREFECT_API_URL": ""}
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(lambda: _healthy(url), 180, what=f"the Prefect server ({home / 'server.log'})")
        yield {"url": url, "env": {**env, "PREFECT_API_URL": url}, "home": home}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api(server, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server["url"]}):
        yield server


def test_the_nightly_deployment_gets_scheduled_runs(api):
    """SQLAlchemy 2.1 broke the server's scheduler service: the schedule showed as active and no run was
    ever created. With a working server, the scheduler creates the upcoming 02:00 runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from deployments.serve import deployments

    nightly = deployments()[0]
    deployment_id = nightly.apply()

    def upcoming():
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
        return [r for r in runs if r.state and r.state.is_scheduled()]

    runs = wait_for(upcoming, 60, what="scheduled runs of retrain/nightly")
    times = sorted(r.expected_start_time for r in runs)
    assert all((t.hour, t.minute) == (2, 0) for t in times) and times[0].timestamp() > time.time()


def test_a_killed_runs_becomes_crashed_and_can_be_retried_to_completion(api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from deployments.zombies import ensure_zombie_automation

    ensure_zombie_automation(heartbeat=30, missed=1.5)  # crashed after 45 s of silence (deployments: 90 s)
    env = {**api["env"], "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30", "PYTHONPATH": str(FIXTURES)}

    def serve_sleepy():
        return subprocess.Popen([sys.executable, str(FIXTURES / "sleepy_flow.py"), "sleepy"], env=env, cwd=tmp_path,
                                stdout=open(tmp_path / "serve.log", "a"), stderr=subprocess.STDOUT, start_new_session=True)

    def state_of(run_id):
        with get_client(sync_client=True) as client:
            return client.read_flow_run(run_id).state

    worker = serve_sleepy()
    try:
        marker = tmp_path / "go"
        run = wait_for(lambda: _try_run(run_deployment, marker), 60, every=2, what="the sleepy deployment")
        wait_for(lambda: state_of(run.id).is_running(), 90, what="the run to start")
        time.sleep(5)  # its first heartbeat
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies: nothing will ever report this run's end
        worker.wait(10)
        crashed = wait_for(lambda: state_of(run.id).is_crashed(), 240, every=3, what="the zombie run to be marked Crashed")
        assert crashed
        marker.write_text("")  # what the retry needs to finish
        retry = subprocess.run([PREFECT, "flow-run", "retry", str(run.id)], env=env, capture_output=True, text=True, timeout=60)
        assert retry.returncode == 0, retry.stdout + retry.stderr
        worker = serve_sleepy()
        wait_for(lambda: state_of(run.id).is_completed(), 120, every=2, what="the retried run to complete")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)


def _try_run(run_deployment, marker):
    try:
        return run_deployment("sleepy/sleepy", parameters={"marker": str(marker)}, timeout=0)
    except Exception:  # not registered yet by the serving process
        return None


def test_a_process_worker_on_a_work_pool_runs_the_deployments(api, tmp_path):
    """A team beyond one `serve` process: the deployments on a work pool, runs executed by `prefect worker`."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from deployments.deploy import deploy

    env = api["env"]
    created = subprocess.run([PREFECT, "work-pool", "create", "zeroxqa-test", "--type", "process"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stdout + created.stderr
    ids = deploy("zeroxqa-test")
    with get_client(sync_client=True) as client:
        registered = {n: client.read_deployment(i) for n, i in ids.items()}
    assert all(d.work_pool_name == "zeroxqa-test" for d in registered.values())
    assert registered["retrain/nightly"].schedules and registered["onboard-domain/on-domain-arrived"].entrypoint

    # a worker picks up a run of a deployment on the pool and runs it from its source folder. The run exists
    # before the worker starts, and the worker polls until it has run it: a `--run-once` worker that polled
    # before the run was created exited without it (seen once on a loaded machine).
    flow.from_source(str(FIXTURES), "sleepy_flow.py:sleepy").deploy(name="pool", work_pool_name="zeroxqa-test",
                                                                       print_next_steps=False)
    marker = tmp_path / "go"
    marker.write_text("")
    run = run_deployment("sleepy/pool", parameters={"marker": str(marker)}, timeout=0)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "zeroxqa-test"],
                              env={**env, "PREFECT_WORKER_QUERY_SECONDS": "2"}, cwd=tmp_path, stdout=open(log, "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with get_client(sync_client=True) as client:
            try:
                wait_for(lambda: client.read_flow_run(run.id).state.is_completed(), 180, every=2,
                         what="the worker to run the flow")
            except AssertionError as timed_out:
                raise AssertionError(f"{timed_out}; the worker's log ends:\n{_tail(log)}") from None
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(none)"
