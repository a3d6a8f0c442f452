"""``bihuan backup [--output PATH] [--include-keys]``: one archive you can restore (core/backup.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bihuan.core import backup
from bihuan.core.context import acting_as


class Command(BaseCommand):
    help = ("Back up the database (PostgreSQL: pg_dump -Fc; SQLite: online backup API) into one tar file "
            "with a manifest (time, version, row counts, sha256). Keys are not included unless --include-keys.")

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", metavar="PATH",
                            help="archive to write (default: var/backups/bihuan-backup-<UTC time>.tar)")
        parser.add_argument("--include-keys", action="store_true",
                            help="also put the data and audit keys in the archive (keys.env); then the archive "
                                 "alone can read personal numbers and rewrite the audit log: keep it apart")

    def handle(self, *args, output=None, include_keys=False, **opts):
        if include_keys:
            self.stderr.write(self.style.WARNING(
                "WARNING: --include-keys puts BIHUAN_DATA_KEY and BIHUAN_AUDIT_KEY into this backup. Whoever "
                "holds it can read every ID and phone number and forge the audit log. Store it encrypted and "
                "apart from ordinary backups."))
        with acting_as(None, username="backup"):
            try:
                result = backup.create_backup(output, include_keys=include_keys,
                                              progress=lambda msg: self.stderr.write(msg))
            except backup.BackupError as exc:
                raise CommandError(str(exc.message))
        m = result.manifest
        self.stdout.write(self.style.SUCCESS(f"backup written: {result.path}"))
        self.stdout.write(f"  {m['vendor']}, {len(m['row_counts'])} tables, {sum(m['row_counts'].values()):,} rows, "
                          f"dump sha256 {m['dump']['sha256']}")
        if not include_keys:
            self.stdout.write("  keys not included: restoring needs this installation's BIHUAN_DATA_KEY and "
                              "BIHUAN_AUDIT_KEY (back them up separately)")
