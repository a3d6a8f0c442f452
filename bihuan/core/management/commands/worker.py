"""``bihuan worker``: the background-job process (django-q2 with the database as its queue).

It makes sure every registered periodic job (``bihuan.core.jobs.register``) has its schedule,
then runs the django-q2 cluster — the scheduler plus a few task processes that also run
one-off tasks such as web imports — until SIGTERM/SIGINT. ``--once`` runs every registered
job once, here and now, and exits.

Stopping is this process's job, never left to django-q2's own handler (which blocks for good in
a futex when the signal went to the whole process group and killed the sentinel first). SIGTERM
or SIGINT, to this process or to its group, asks the cluster to stop: task processes finish the
task at hand; after ``BIHUAN_WORKER_STOP_SECONDS`` (7 s) the cluster is killed instead, and an
unfinished task is released (its transaction rolls back; the queue hands it out again after
``Q_CLUSTER["retry"]``). Every forked process dies with its parent (``core/lifeline.py``), so
SIGKILL to this process leaves no orphaned cluster behind.
"""

from __future__ import annotations

import os
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.utils import timezone

from bihuan.core import jobs, lifeline

# How long the cluster may take to stop on its own before it is killed (the whole stop stays
# well under the 10 s of systemd's and the demo's patience).
STOP_SECONDS = float(os.environ.get("BIHUAN_WORKER_STOP_SECONDS", "7"))


class Command(BaseCommand):
    help = "Run background jobs (schedules and queued tasks) until stopped with SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true",
                            help="Run every registered periodic job once, print what each did, and exit.")

    def handle(self, *args, once: bool, **opts):
        if once:
            return self._once()
        now = timezone.now()
        for name, what in jobs.ensure_schedules(now):
            job = jobs.REGISTRY.get(name)
            every = ("" if job is None else f"every {job.minutes // 60} h" if job.minutes % 60 == 0
                     else f"every {job.minutes} min")
            self.stdout.write(f"worker: schedule {name} {every} ({what})")
        q = settings.Q_CLUSTER
        self.stdout.write(f"worker: {q['workers']} task processes, queue in the {connection.vendor} database; "
                          "stop with Ctrl-C or SIGTERM")
        self.stdout.flush()
        from django_q.cluster import Cluster  # imported late: it installs nothing until created

        connections.close_all()  # the cluster forks; children open their own connections
        lifeline.forked_children_die_with_parent()
        stop = threading.Event()
        cluster = Cluster()
        # Replace the handlers Cluster() installed: a handler only notes the request (the stop
        # itself may block on django-q2's locks, so it never runs inside a signal handler).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: stop.set())
        try:
            cluster.start()
        except RuntimeError as exc:
            raise CommandError(str(exc))
        while cluster.sentinel.is_alive() and not stop.wait(0.5):
            pass
        self._stop(cluster)
        self.stdout.write("worker: stopped")

    def _stop(self, cluster) -> None:
        sentinel = cluster.sentinel
        if sentinel.is_alive():
            # Setting the event can block forever if the sentinel died holding its lock (a signal
            # to the whole group): do it in a thread nobody waits for, and wait on the process.
            threading.Thread(target=cluster.stop_event.set, name="stop-cluster", daemon=True).start()
            sentinel.join(STOP_SECONDS)
        if sentinel.is_alive():
            self.stdout.write(f"worker: cluster still busy after {STOP_SECONDS:g} s; killing it "
                              "(an unfinished task is handed out again later)")
            sentinel.kill()  # its children get SIGKILL with it (lifeline)
            sentinel.join(2)

    def _once(self):
        failed = []
        # The seal goes last, so the entries the other jobs write in this pass are sealed too.
        for job in sorted(jobs.REGISTRY.values(), key=lambda j: (j.name == "audit.seal", j.name)):
            try:
                result = jobs.run_job(job.name, timezone.now())
            except Exception:  # noqa: BLE001 - one failing job must not stop the others
                jobs.log.exception("job %s failed", job.name)
                failed.append(job.name)
                continue
            self.stdout.write(f"{job.name}: {result if result not in (None, '') else 'done'}")
        if failed:
            raise CommandError(f"failed: {', '.join(failed)}")
