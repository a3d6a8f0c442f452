"""``bihuan restore PATH [--database URL]``: restore a ``bihuan backup`` archive into an empty database."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bihuan.core import backup
from bihuan.core.context import acting_as


class Command(BaseCommand):
    help = ("Restore a backup archive into a new, empty database (default: DATABASE_URL). Checks the dump's "
            "sha256, that the keys configured here can read the backup, and the row counts afterwards.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="archive written by `bihuan backup`")
        parser.add_argument("--database", metavar="URL",
                            help="target database URL (postgres://… or sqlite:////abs/path); it must be empty")
        parser.add_argument("--allow-missing-keys", action="store_true",
                            help="restore even if the data or audit key of the backup is not configured here "
                                 "(personal numbers then stay unreadable, audit entries unverifiable)")

    def handle(self, *args, path, database=None, allow_missing_keys=False, **opts):
        with backup.using_database(database), acting_as(None, username="restore"):
            try:
                result = backup.restore_backup(path, allow_missing_keys=allow_missing_keys,
                                               progress=lambda msg: self.stderr.write(msg))
            except backup.BackupError as exc:
                raise CommandError(str(exc.message))
            missing = backup.missing_keys(result.manifest.get("key_checks", {}))
        m = result.manifest
        self.stdout.write(f"restored backup of {m['created_at']} (Bihuan {m['bihuan_version']}) into {result.target}")
        if missing:
            self.stdout.write(self.style.WARNING("keys missing:\n  - " + "\n  - ".join(missing)))
        else:
            self.stdout.write("keys: the data and audit keys configured here read this backup")
        if result.count_mismatches:
            for table, c in list(result.count_mismatches.items())[:20]:
                self.stdout.write(self.style.ERROR(f"  {table}: {c['backup']} rows in the backup, {c['restored']} restored"))
            raise CommandError("row counts differ from the manifest", returncode=1)
        self.stdout.write(self.style.SUCCESS(
            f"OK: {len(m['row_counts'])} tables, {sum(m['row_counts'].values()):,} rows, counts match the manifest"))
        self.stdout.write("next: run `bihuan audit verify` against this database, then point DATABASE_URL at it")
