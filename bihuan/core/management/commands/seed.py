"""``bihuan seed --scale demo|county|city [--seed N] [--if-empty]``: the Jining demo dataset.

Each app contributes a step: ``bihuan/<app>/seed.py`` defines
``seed_step(scale, seed, *, progress, reuse) -> dict`` (counts to print) and, optionally,
``report(out)``. Steps run in INSTALLED_APPS order, which is the dependency order
(tree → users → people → matters), so core never imports the apps it seeds.
"""

from __future__ import annotations

import importlib
import time

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from bihuan.core import audit
from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError

SCALES = ("demo", "county", "city")
DEFAULT_SEED = 2022


def seed_modules():
    for cfg in apps.get_app_configs():
        if not cfg.name.startswith("bihuan."):
            continue
        try:
            mod = importlib.import_module(f"{cfg.name}.seed")
        except ModuleNotFoundError as exc:
            if exc.name == f"{cfg.name}.seed":
                continue
            raise
        if hasattr(mod, "seed_step"):
            yield cfg.label, mod


class Command(BaseCommand):
    help = ("Seed the Jining dataset: the organisation tree (real counties and named streets, synthetic "
            "elsewhere), demo users, residents and a year of matters. Deterministic for a given --seed.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=SCALES, default="demo",
                            help="demo: small; county: 任城区 full-size, the rest small; city: all of Jining "
                                 "(~150 townships, ~6,000 villages, ~30,000 grids, millions of residents)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help=f"random seed for synthetic names and sizes (default {DEFAULT_SEED})")
        parser.add_argument("--if-empty", action="store_true",
                            help="reuse what is already seeded instead of failing")
        parser.add_argument("--skip", action="append", default=[], metavar="APP",
                            help="skip an app's step (e.g. --skip people --skip loop); repeatable")
        parser.add_argument("--no-users", action="store_true", help="same as --skip accounts")
        parser.add_argument("--no-report", action="store_true",
                            help="leave out the closing reports (the demo logins); `bihuan demo` prints them")

    def handle(self, *args, scale, seed, if_empty, skip, no_users, no_report, verbosity, **opts):
        started = time.perf_counter()
        skip = set(skip) | ({"accounts"} if no_users else set())
        results, reused = [], False
        # Thousands of audited writes in long transactions: no per-commit seal requests (on SQLite
        # they would wait on the seed's write lock); one seal at the end instead.
        with override_settings(BIHUAN_AUDIT_SEAL_ON_COMMIT=False), acting_as(None, username="seed"):
            for label, mod in seed_modules():
                if label in skip:
                    continue
                try:
                    counts = mod.seed_step(scale, seed, progress=verbosity > 0, reuse=if_empty)
                except ServiceError as exc:
                    raise CommandError(str(exc))
                if "reused" in counts:
                    reused = True
                    self.stdout.write(f"already seeded: {counts.pop('reused')}; reusing it")
                results.append((label, mod, counts))
        audit.seal_all()
        if verbosity == 0:
            return
        if not reused:
            self.stdout.write(self.style.SUCCESS(
                f"Seeded scale={scale} seed={seed} in {time.perf_counter() - started:.1f} s"))
        for label, _mod, counts in results:
            shown = {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}
            if shown:
                self.stdout.write(f"  {label}: " + "  ".join(f"{k} {v:,}" for k, v in shown.items()))
        for _label, mod, _counts in results:
            if hasattr(mod, "report") and not no_report:
                mod.report(self.stdout)
