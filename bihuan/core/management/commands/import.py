"""``bihuan import KIND FILE``: import a register from XLSX or CSV (see docs/import-export.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bihuan.core import tabular as tb
from bihuan.core.context import acting_as


class Command(BaseCommand):
    help = ("Import a register from an .xlsx or .csv file. All-or-nothing by default: any bad row "
            "means nothing is written. Without --user the import runs as the system, with full scope.")

    def add_arguments(self, parser):
        parser.add_argument("kind", help="What to import: " + ", ".join(tb.kinds()) + ".")
        parser.add_argument("file", help="The .xlsx or .csv file (headers as exported).")
        parser.add_argument("--user", metavar="USERNAME",
                            help="Act as this user, within their import scope (default: system, full scope).")
        parser.add_argument("--valid-only", action="store_true",
                            help="Import the valid rows and report the bad ones (default: all or nothing).")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report; write nothing.")
        parser.add_argument("--report", metavar="FILE",
                            help="Write the rows with an error column (错误) to this .xlsx when there are errors.")

    def handle(self, *args, kind, file, **opts):
        try:
            k = tb.get_kind(kind)
            user = tb.cli_user(opts.get("user"))
            if user is not None and not tb.can(user, k, "import"):
                raise CommandError(f"{user.username} may not import {k.name}")
            source = tb.open_source(file)
        except tb.TabularError as exc:
            raise CommandError(str(exc.message))
        mode = tb.VALID_ONLY if opts["valid_only"] else tb.ATOMIC
        with acting_as(user), tqdm(desc=f"import {k.name}", unit="row", file=self.stderr,
                                   disable=opts.get("verbosity", 1) == 0) as bar:
            result = tb.run_import(k, source, user=user, mode=mode, dry_run=opts["dry_run"], progress=bar.update)
        self._print(result)
        if opts.get("report") and (result.errors or result.file_error):
            tb.write_error_report(opts["report"], k, source, result)
            self.stdout.write(f"error report: {opts['report']}")
        if result.file_error or (not result.applied and not result.dry_run):
            raise CommandError("nothing was imported", returncode=1)

    def _print(self, r: tb.ImportResult) -> None:
        self.stdout.write(f"file: {r.filename} ({r.size} bytes, sha256 {r.sha256})")
        if r.file_error:
            self.stdout.write(self.style.ERROR(f"refused: {r.file_error}"))
            return
        self.stdout.write(f"rows: {r.total}, valid: {r.valid}, invalid: {r.invalid}")
        for e in r.errors[:50]:
            self.stdout.write(f"  row {e.row}" + (f" [{e.column}]" if e.column else "") + f": {e.message}")
        if len(r.errors) > 50:
            self.stdout.write(f"  … {len(r.errors) - 50} more errors (use --report FILE)")
        counts = f"created {r.created}, updated {r.updated}, unchanged {r.unchanged}"
        if r.dry_run:
            self.stdout.write(f"dry run, nothing written; would have: {counts}")
        elif r.applied:
            self.stdout.write(self.style.SUCCESS(f"{r.outcome}: {counts}"))
        else:
            self.stdout.write(self.style.ERROR(
                "refused: nothing written (fix the rows above, or use --valid-only to import the rest)"))
