"""``bihuan care generate --date YYYY-MM-DD`` and ``bihuan care sweep [--now ISO]``.

Both are also run by ``bihuan worker`` (jobs ``care.generate`` hourly, ``care.sweep`` every five
minutes); both are idempotent, so running one by hand next to the worker does nothing twice."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bihuan.care import services
from bihuan.loop.management.commands.sweep import parse_now


class Command(BaseCommand):
    help = "Care visits: generate a day's visits from the care plans' rules; sweep missed visits into the loop."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        g = sub.add_parser("generate", help="make a day's visits (idempotent)")
        g.add_argument("--date", help="YYYY-MM-DD (default: today, Asia/Shanghai)")
        s = sub.add_parser("sweep", help="open one loop matter per missed visit (idempotent)")
        s.add_argument("--now", help="ISO time to sweep as of; naive times are Asia/Shanghai")

    def handle(self, *args, what=None, **opts):
        if what == "generate":
            raw = opts.get("date")
            try:
                day = date.fromisoformat(raw) if raw else timezone.localdate()
            except ValueError:
                raise CommandError(f"--date: not a date: {raw!r} (YYYY-MM-DD)")
            made = services.generate(day, now=timezone.now())
            self.stdout.write(f"care generate {day}: {made} visits made")
        else:
            result = services.sweep(parse_now(opts.get("now")))
            self.stdout.write(f"care sweep: {result}")
