"""``bihuan worker``: the background-job process (django-q2 with the database as its queue).

It makes sure every registered periodic job (``bihuan.core.jobs.register``) has its schedule,
then runs the django-q2 cluster — the scheduler plus a few task processes that also run
one-off tasks such as web imports — until SIGTERM/SIGINT. ``--once`` runs every registered
job once, here and now, and exits.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.utils import timezone

from bihuan.core import jobs


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
        cluster = Cluster()  # installs SIGTERM/SIGINT handlers that stop it
        try:
            cluster.start()
        except RuntimeError as exc:
            raise CommandError(str(exc))
        while cluster.sentinel.is_alive():
            time.sleep(0.5)
        self.stdout.write("worker: stopped")

    def _once(self):
        failed = []
        for job in sorted(jobs.REGISTRY.values(), key=lambda j: j.name):
            try:
                result = jobs.run_job(job.name, timezone.now())
            except Exception:  # noqa: BLE001 - one failing job must not stop the others
                jobs.log.exception("job %s failed", job.name)
                failed.append(job.name)
                continue
            self.stdout.write(f"{job.name}: {result if result not in (None, '') else 'done'}")
        if failed:
            raise CommandError(f"failed: {', '.join(failed)}")
