"""A killed flow run leaves no child behind: the spawned processes that train and export die with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

PARENT = textwrap.dedent("""
    import sys, time
    from zeroxqa.isolate import run_isolated

    def work(marker):
        import os, time
        open(marker, "w").write(str(os.getpid()))
        time.sleep(120)

    if __name__ == "__main__":
        run_isolated(work, sys.argv[1])
""")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/status") as f:  # a zombie is dead, only not yet reaped
        return "State:\tZ" not in f.read()


def kill_and_wait(tmp_path, code: str, settle: float = 0.0) -> bool:
    """Run `code` (which writes its child's pid to the file named by its argument), SIGKILL it once the child
    runs, and say whether the child is still alive 10 s later."""
    script, marker = tmp_path / "parent.py", tmp_path / "child.pid"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script), str(marker)], cwd=tmp_path)
    deadline = time.time() + 60
    while not marker.exists() or not marker.read_text():
        assert time.time() < deadline and parent.poll() is None, "the child never started"
        time.sleep(0.1)
    child = int(marker.read_text())
    assert alive(child)
    time.sleep(settle)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while alive(child) and time.time() < deadline:
        time.sleep(0.1)
    return alive(child)


def test_sigkill_of_the_parent_leaves_no_child_alive(tmp_path):
    assert not kill_and_wait(tmp_path, PARENT), "the child outlived its killed parent"


ANY_CHILD = textwrap.dedent("""
    import subprocess, sys, time, threading
    from zeroxqa.isolate import reap_children_on_death

    reap_children_on_death()
    started = []
    def start():  # from another thread, as Prefect starts its temporary server
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))
    t = threading.Thread(target=start); t.start(); t.join()
    open(sys.argv[1], "w").write(str(started[0].pid))
    time.sleep(120)
""")


def test_sigkill_of_a_run_takes_any_process_it_started_with_it(tmp_path):
    """What `die_with_parent` cannot reach (a server Prefect starts with plain Popen) the reaper kills."""
    # the reaper notes descendants every 0.5 s: let it see the child first
    assert not kill_and_wait(tmp_path, ANY_CHILD, settle=1.0), "a process the run started outlived it"
