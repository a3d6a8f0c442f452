"""``bihuan demo``: print the demo logins, then run the worker and the web server together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand

from bihuan.core.management.commands.serve import gunicorn_argv


class Command(BaseCommand):
    help = "Serve the demo: worker in the background, gunicorn in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))

    def handle(self, *args, host, port, workers, **opts):
        from bihuan.accounts.seed import print_logins

        print_logins(self.stdout, f"http://{host}:{port}/")
        self.stdout.flush()
        worker = subprocess.Popen([sys.executable, "-m", "bihuan.cli", "worker"])
        web = subprocess.Popen(gunicorn_argv(host, port, workers))

        def _forward(signum, _frame):
            for p in (web, worker):
                if p.poll() is None:
                    p.send_signal(signum)

        signal.signal(signal.SIGTERM, _forward)
        signal.signal(signal.SIGINT, _forward)
        try:
            code = web.wait()
        finally:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=10)
        sys.exit(code)
