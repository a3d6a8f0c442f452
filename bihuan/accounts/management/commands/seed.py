"""``bihuan seed --scale demo|county|city [--seed N] [--if-empty]``: the Jining demo dataset."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bihuan.accounts import seed as account_seed
from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError
from bihuan.orgs import seed as org_seed

LEVEL_LABELS = [("city", "市"), ("county", "县区"), ("township", "乡镇街道"), ("village", "村社区"),
                ("grid", "网格"), ("party_committee", "党委"), ("party_general_branch", "党总支"),
                ("party_branch", "党支部")]


class Command(BaseCommand):
    help = ("Seed the Jining organisation tree (real counties and named streets, synthetic elsewhere), "
            "party organisations and the demo users. Deterministic for a given --seed.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=org_seed.SCALES, default="demo",
                            help="demo: small; county: 任城区 full-size, the rest small; city: all of Jining "
                                 "(~150 townships, ~6,000 villages, ~30,000 grids)")
        parser.add_argument("--seed", type=int, default=org_seed.DEFAULT_SEED,
                            help=f"random seed for synthetic names and sizes (default {org_seed.DEFAULT_SEED})")
        parser.add_argument("--if-empty", action="store_true",
                            help="if the tree already has a root unit, reuse it instead of failing")
        parser.add_argument("--no-users", action="store_true", help="do not create the demo users")

    def handle(self, *args, scale, seed, if_empty, no_users, verbosity, **opts):
        started = time.perf_counter()
        progress = verbosity > 0
        with acting_as(None, username="seed"):
            root = org_seed.existing_root()
            if root is not None:
                if not if_empty:
                    raise CommandError(f"The organisation tree already has a root unit ({root.name} {root.code}). "
                                       "Use --if-empty to reuse it, or seed into an empty database.")
                self.stdout.write(f"already seeded: {root.name} ({root.code}); reusing it")
                created = False
            else:
                try:
                    with transaction.atomic():
                        org_seed.seed_tree(scale, seed, progress=progress)
                        if not no_users:
                            account_seed.ensure_demo_users()
                except ServiceError as exc:
                    raise CommandError(str(exc))
                created = True
            if if_empty and not created and not no_users:
                account_seed.ensure_demo_users()  # a reused tree still gets any missing demo user
            # Residents and households (a later app, so imported here; skipped when already seeded).
            from bihuan.people.seed import seed_people

            people = seed_people(scale, seed, progress=progress)
            # Categories and a year of matters (the loop app; lazy import, skipped when already seeded).
            from bihuan.loop.seed import seed_loop

            loop = seed_loop(scale, seed, progress=progress)
        elapsed = time.perf_counter() - started
        if verbosity == 0:
            return
        counts = org_seed.tree_counts()
        if created:
            self.stdout.write(self.style.SUCCESS(f"Seeded scale={scale} seed={seed} in {elapsed:.1f} s"))
        self.stdout.write("  " + "  ".join(f"{zh} {counts[key]:,}" for key, zh in LEVEL_LABELS))
        self.stdout.write("  " + "  ".join(f"{k} {v:,}" for k, v in people.items() if k != "skipped"))
        self.stdout.write(f"  matters {loop['matters']:,}")
        account_seed.print_logins(self.stdout)
