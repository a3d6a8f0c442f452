"""``bihuan evaluate run SET PERIOD [--now ISO-TIME]``: compute an assessment run from the command line."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bihuan.core.errors import ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import IndicatorSet
from bihuan.loop.management.commands.sweep import parse_now


class Command(BaseCommand):
    help = ("Compute (or compute again, while unpublished) the run of an indicator set for a period "
            "(2026H1, 2026Q3, 2026) as the system, and print how many targets still lack a score.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["run"])
        parser.add_argument("set", help="the indicator set's id or exact name")
        parser.add_argument("period", help="2026H1 (half-year), 2026Q3 (quarter) or 2026 (year)")
        parser.add_argument("--now", help="ISO time the sources are read as of; naive times are Asia/Shanghai")

    def handle(self, *args, action, set, period, now=None, **opts):  # noqa: A002 - the argument's name
        ref = set.strip()
        s = (IndicatorSet.objects.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 12 else None) \
            or IndicatorSet.objects.filter(name=ref).first()
        if s is None:
            raise CommandError(f"no indicator set {ref!r}")
        try:
            run = services.compute_run(None, s, period, now=parse_now(now))
        except ServiceError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(f"run {run.pk}: {s.name} {run.period} v{run.version} — {run.targets} targets, "
                          f"{run.missing} missing a score, state {run.state}")
        for m in services.missing_list(run, limit=20):
            self.stdout.write(f"  {m['who']}: {m['action']} {m['indicator']} — {m['target']}")
