"""``bihuan serve``: gunicorn, the production WSGI server, with sensible defaults."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand

# gunicorn's default access line has the request line with its query string (%(r)s) and the
# referrer (%(f)s): a search for a phone number would be written to the log in full. Method, path
# without query (%(U)s), protocol, status, size, duration and user agent are enough.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "bihuan.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--threads", "2",
        "--timeout", "120",
        # Load the application once in the master and fork: workers share its pages (bihuan/wsgi.py).
        "--preload",
        "--access-logfile", "-",
        "--access-logformat", ACCESS_LOG_FORMAT,
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
