"""``bihuan bulletin draft TEMPLATE --unit ID --period P [--now ISO]`` and
``bihuan bulletin render ID --format pdf|docx|xlsx --out FILE`` (as the system, like the worker)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bihuan.core.errors import ServiceError
from bihuan.orgs.models import OrgUnit
from bihuan.reports import kinds, render, services
from bihuan.reports.models import Bulletin


class Command(BaseCommand):
    help = "Draft a dispatch bulletin (调度通报) or render one as PDF, DOCX or XLSX."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        d = sub.add_parser("draft", help="draft TEMPLATE for a unit and a period")
        d.add_argument("template", choices=sorted(kinds.TEMPLATES))
        d.add_argument("--unit", required=True, help="unit id or division code")
        d.add_argument("--period", required=True, help="2026-W48 | 2026-11 | 2026-Q4 | 2026-11-30")
        d.add_argument("--now", help="ISO time (default: now)")
        r = sub.add_parser("render", help="render bulletin ID to a file")
        r.add_argument("id", type=int)
        r.add_argument("--format", required=True, choices=sorted(render.FORMATS))
        r.add_argument("--out", required=True)

    def handle(self, *args, **o):
        if o["action"] == "draft":
            ref = o["unit"]
            unit = OrgUnit.objects.filter(code=ref).first() or (
                OrgUnit.objects.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 12 else None)
            if unit is None:
                raise CommandError(f"no unit {ref!r}")
            try:
                now = datetime.fromisoformat(o["now"]) if o["now"] else timezone.now()
            except ValueError as exc:
                raise CommandError(f"--now: {exc}") from exc
            if timezone.is_naive(now):
                now = now.replace(tzinfo=kinds.TZ)
            try:
                b = services.draft(None, template=o["template"], unit=unit, period=o["period"], now=now)
            except ServiceError as exc:
                raise CommandError(f"{exc.message} {exc.field_errors or ''}") from exc
            self.stdout.write(f"{b.pk}\t{b.title}")
            return
        b = Bulletin.objects.filter(pk=o["id"]).select_related("unit").first()
        if b is None:
            raise CommandError(f"no bulletin {o['id']}")
        try:
            data = render.render(b, o["format"])
        except render.RenderError as exc:
            raise CommandError(str(exc)) from exc
        with open(o["out"], "wb") as f:
            f.write(data)
        self.stdout.write(f"{o['out']}: {len(data)} bytes")
