"""``bihuan worker``: run the registered periodic jobs (audit sealing, and later sweeps)."""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from bihuan.core import jobs


class Command(BaseCommand):
    help = "Run periodic background jobs until stopped (SIGTERM/SIGINT)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")

    def handle(self, *args, **opts):
        stop = {"flag": False}

        def _stop(*_):
            stop["flag"] = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        last: dict[str, float] = {}
        self.stdout.write(f"worker: jobs {', '.join(sorted(jobs.REGISTRY))}")
        while not stop["flag"]:
            for job in list(jobs.REGISTRY.values()):
                if opts["once"] or time.monotonic() - last.get(job.name, -1e9) >= job.every_seconds:
                    last[job.name] = time.monotonic()
                    close_old_connections()
                    try:
                        result = job.func(timezone.now())
                        if result:
                            self.stdout.write(f"{job.name}: {result}")
                    except Exception:  # noqa: BLE001 - one failing job must not stop the others
                        jobs.log.exception("job %s failed", job.name)
            if opts["once"]:
                break
            time.sleep(0.5)
