"""``bihuan sweep [--now ISO-TIME]``: emit due reminders and escalations once."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bihuan.core.calendar import TZ
from bihuan.loop.sweep import sweep


def parse_now(value: str | None) -> datetime:
    if not value:
        return timezone.now()
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--now: not an ISO time: {value!r} (e.g. 2026-12-01T09:00+08:00)")
    return dt if dt.tzinfo else dt.replace(tzinfo=TZ)


class Command(BaseCommand):
    help = ("Emit due reminders (催办) and escalations (挂牌督办) as of --now (default: the current time). "
            "Idempotent: a second run emits nothing new.")

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO time to sweep as of; naive times are Asia/Shanghai")

    def handle(self, *args, now=None, **opts):
        result = sweep(parse_now(now))
        self.stdout.write(f"sweep: {result}")
