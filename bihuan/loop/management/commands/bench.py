"""``bihuan bench [--scale smoke|county|city] [--only NAME] [--out DIR]``: the benchmark suite.

The suite lives in ``bench/suite`` (next to ``bihuan/`` in a source checkout) and runs in a
child process against a PostgreSQL database of its own (``bihuan_bench_<scale>``, on the
server of ``DATABASE_URL`` or 127.0.0.1:5432). See bench/README.md and docs/performance.md.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from django.core.management.base import BaseCommand, CommandError

import bihuan

BUILTIN = ("import", "intake", "transition", "inbox", "pages", "stats", "sweep", "memory", "growth")
ROOT = Path(bihuan.__file__).resolve().parent.parent


def workloads() -> tuple[str, ...]:
    """The built-in workloads and those apps add in bench/suite/workloads/ (the runner checks the name)."""
    extra = sorted(p.stem for p in (ROOT / "bench" / "suite" / "workloads").glob("[a-z]*.py"))
    return BUILTIN + tuple(extra)


class Command(BaseCommand):
    help = "Run the benchmark suite on PostgreSQL and write results.json and results.md."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["smoke", "county", "city"], default="smoke",
                            help="smoke: checks the suite works (< 3 min); county: ~20 min; city: 2M matters")
        parser.add_argument("--only", action="append", choices=workloads(), metavar="NAME",
                            help="run only this workload (repeatable): " + ", ".join(workloads()))
        parser.add_argument("--out", default=None, help="output directory (default bench/out/)")
        parser.add_argument("--db-url", default=None,
                            help="postgres://…/NAME for the suite's own database (NAME must contain 'bench')")
        parser.add_argument("--reuse", action="store_true", help="reuse the suite's database from an earlier run")
        parser.add_argument("--matters", type=int, help="override the 1x matter volume of the scale")
        parser.add_argument("--reads", type=int, help="override the rounds of each read workload")
        parser.add_argument("--import-rows", type=int, help="override the rows of the import workload")

    def handle(self, *args, scale, only, out, db_url, reuse, matters, reads, import_rows, **opts):
        root = ROOT
        if not (root / "bench" / "suite" / "runner.py").exists():
            raise CommandError(f"bench/suite not found next to {root / 'bihuan'}: run from a source checkout")
        missing = [m for m in ("aiohttp",) if importlib.util.find_spec(m) is None]
        if missing:
            # The load generator lives in the `bench` extra; say how to get it instead of a traceback.
            raise CommandError(f"the benchmark suite needs {', '.join(missing)} (the `bench` extra): "
                               f"{sys.executable} -m pip install -e '.[bench]'")
        if db_url is None:
            u = urlparse(os.environ.get("DATABASE_URL", ""))
            host = f"{u.hostname}:{u.port or 5432}" if u.scheme.startswith("postgres") and u.hostname \
                else "127.0.0.1:5432"
            user = (u.username if u.scheme.startswith("postgres") and u.username else "postgres")
            db_url = f"postgres://{user}@{host}/bihuan_bench_{scale}"
        argv = [sys.executable, "-m", "bench.suite.runner", "--scale", scale, "--db-url", db_url,
                "--out", out or str(root / "bench" / "out")]
        for name in only or []:
            argv += ["--only", name]
        if reuse:
            argv.append("--reuse")
        if matters:
            argv += ["--matters", str(matters)]
        if reads:
            argv += ["--reads", str(reads)]
        if import_rows:
            argv += ["--import-rows", str(import_rows)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        rc = subprocess.call(argv, cwd=root, env=env)
        if rc:
            raise CommandError(f"the benchmark suite failed (exit status {rc})", returncode=rc)
