"""``bihuan demo``: run the worker and the web server together, then print the demo logins.

The logins are printed once, after the web server answers, so they are the last thing on the
screen rather than scrolled away by the start-up lines of the worker and gunicorn.

Ctrl-C or SIGTERM stops both within 10 s: the signal is passed to each, and whichever has not
exited when ``STOP_SECONDS`` are up is killed. Both die with this process too (``core/lifeline``),
so even SIGKILL to the demo leaves nothing running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from django.core.management.base import BaseCommand

from bihuan.core.lifeline import preexec_die_with_parent
from bihuan.core.management.commands.serve import gunicorn_argv

# After Ctrl-C/SIGTERM, how long web and worker may take before they are killed, with every
# process they started (the worker itself gives its cluster 7 s).
STOP_SECONDS = 8.0


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc; elsewhere none are known)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = {int(k) for k in f.read().split()}
            except (OSError, ValueError):
                continue
            todo.extend(kids - found)
            found |= kids
    return found


def _started(pid: int) -> str | None:
    """The start time of ``pid`` (field 22 of /proc/PID/stat): tells a process from a later one
    that reuses its number."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def wait_for_port(host: str, port: int, timeout: float, alive) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


class Command(BaseCommand):
    help = "Serve the demo: worker in the background, gunicorn in the foreground; prints the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))

    def handle(self, *args, host, port, workers, **opts):
        from bihuan.accounts.seed import print_logins

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Both started before any thread of ours exists (preexec_fn runs between fork and exec).
        worker = subprocess.Popen([sys.executable, "-m", "bihuan.cli", "worker"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1,
                                  preexec_fn=preexec_die_with_parent())
        web = subprocess.Popen(gunicorn_argv(host, port, workers), env=env, preexec_fn=preexec_die_with_parent())
        worker_ready = threading.Event()
        stopping = threading.Event()

        def relay():
            # The worker's lines, as they come; it is ready once it says how many processes it runs.
            for line in worker.stdout:
                self.stdout.write(line.rstrip("\n"))
                self.stdout.flush()
                if line.startswith("worker:") and "task processes" in line:
                    worker_ready.set()
            worker_ready.set()

        threading.Thread(target=relay, name="worker-output", daemon=True).start()

        def _forward(signum, _frame):
            stopping.set()
            for p in (web, worker):
                if p.poll() is None:
                    p.send_signal(signum)

        signal.signal(signal.SIGTERM, _forward)
        signal.signal(signal.SIGINT, _forward)
        code = 1
        try:
            if wait_for_port(host, port, 30, lambda: web.poll() is None and not stopping.is_set()):
                worker_ready.wait(30)
                if not stopping.is_set():
                    print_logins(self.stdout, f"http://{host}:{port}/")
                    self.stdout.write("Stop with Ctrl-C.\n")
                    self.stdout.flush()
            # Until asked to stop, or until either process ends by itself.
            while not stopping.wait(0.5):
                if web.poll() is not None or worker.poll() is not None:
                    break
            code = web.poll() or 0
        finally:
            self._stop_all((web, worker))
        sys.exit(code)

    def _stop_all(self, procs) -> None:
        # Known now, while their parents live: a gunicorn worker or a task process whose parent is
        # killed would otherwise linger until it notices (seconds later on a loaded machine).
        below = {pid: _started(pid) for p in procs for pid in descendants(p.pid)}
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for pid, started in below.items():
            if started is not None and _started(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:  # gone meanwhile
                    pass
