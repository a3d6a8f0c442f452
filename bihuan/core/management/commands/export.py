"""``bihuan export KIND``: export a register to XLSX or CSV (utf-8-sig), Chinese headers."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from bihuan.core import tabular as tb
from bihuan.core.context import acting_as
from bihuan.core.errors import NotFound


class Command(BaseCommand):
    help = ("Export a register to .xlsx or .csv with Chinese headers. Without --user the export runs "
            "as the system and contains everything (full scope).")

    def add_arguments(self, parser):
        parser.add_argument("kind", help="What to export: " + ", ".join(tb.kinds()) + ".")
        parser.add_argument("--unit", metavar="CODE", help="Only this unit's subtree (by division code).")
        parser.add_argument("--user", metavar="USERNAME",
                            help="Act as this user: only their export scope (default: system, full scope).")
        parser.add_argument("--format", choices=tb.FORMATS, default=None,
                            help="xlsx (default) or csv (utf-8-sig); default taken from --out's extension.")
        parser.add_argument("--unmasked", action="store_true",
                            help="Full ID and phone numbers (needs the kind's export_unmasked permission; audited).")
        parser.add_argument("--out", metavar="FILE",
                            help="Where to write (default: KIND-YYYYMMDD-HHMMSS.FORMAT here; '-' for stdout).")

    def handle(self, *args, kind, **opts):
        out = opts.get("out")
        fmt = opts.get("format") or (out.rsplit(".", 1)[-1].lower() if out and "." in out else "xlsx")
        if fmt not in tb.FORMATS:
            raise CommandError("--format must be xlsx or csv")
        try:
            k = tb.get_kind(kind)
        except tb.TabularError as exc:
            raise CommandError(str(exc.message))
        try:
            user = tb.cli_user(opts.get("user"))
        except tb.TabularError as exc:
            raise CommandError(str(exc.message))
        if user is not None and not tb.can(user, k, "export"):
            raise CommandError(f"{user.username} may not export {k.name}")
        try:
            unit = k.find_unit(user, opts["unit"]) if opts.get("unit") and k.find_unit else None
        except NotFound:
            raise CommandError(f"no unit {opts['unit']} in scope")
        if opts.get("unit") and unit is None:
            raise CommandError(f"{k.name} cannot be limited to a unit")
        if not out:
            out = f"{k.name}-{timezone.localtime():%Y%m%d-%H%M%S}.{fmt}"
        total = k.export_count(user, unit=unit) if k.export_count else None
        with acting_as(user), tqdm(total=total, desc=f"export {k.name}", unit="row", file=self.stderr,
                                   disable=out == "-" or opts.get("verbosity", 1) == 0) as bar:
            target = sys.stdout.buffer if out == "-" else out
            try:
                n = tb.export(k, target, user=user, fmt=fmt, unit=unit, progress=bar.update,
                              unmasked=opts.get("unmasked", False))
            except tb.ServiceError as exc:
                raise CommandError(str(exc.message))
        if out != "-":
            self.stdout.write(f"{n} rows → {out}")
