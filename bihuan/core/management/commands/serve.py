"""``bihuan serve``: gunicorn, the production WSGI server, with sensible defaults."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "bihuan.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--threads", "2",
        "--timeout", "120",
        "--access-logfile", "-",
        "--forwarded-allow-ips", os.environ.get("BIHUAN_FORWARDED_ALLOW_IPS", "127.0.0.1"),
    ]


class Command(BaseCommand):
    help = "Serve Bihuan with gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "3")))

    def handle(self, *args, host, port, workers, **opts):
        argv = gunicorn_argv(host, port, workers)
        os.execv(argv[0], argv)
