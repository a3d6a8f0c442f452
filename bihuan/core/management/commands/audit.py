"""``bihuan audit verify`` / ``bihuan audit seal``."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bihuan.core import audit
from bihuan.core.models import AuditEntry


class Command(BaseCommand):
    help = "Verify or seal the audit log's hash chain."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        v = sub.add_parser("verify", help="Check every entry's MAC and the chain; exit 1 on a broken link.")
        v.add_argument("--json", action="store_true", help="Print the report as JSON.")
        v.add_argument("--seal-first", action="store_true", help="Seal the committed tail before verifying.")
        sub.add_parser("seal", help="Chain all committed, unsealed entries now.")
        sub.add_parser("rotate-key", help="Switch to a new audit key (kept in var/); entries stay verifiable.")

    def handle(self, *args, action, **opts):
        if action == "rotate-key":
            return self._rotate()
        if action == "seal":
            n = audit.seal_all()
            self.stdout.write(f"sealed {n} entries")
            return
        if opts.get("seal_first"):
            audit.seal_all()
        total = AuditEntry.objects.count()
        with tqdm(total=total, desc="verify", unit="entry", disable=opts.get("json") or total < 10000,
                  file=self.stderr) as bar:
            report = audit.verify(progress=bar.update)
        if opts.get("json"):
            self.stdout.write(json.dumps({
                "ok": report.ok, "checked": report.checked, "sealed_head": report.sealed_head,
                "unsealed": report.unsealed, "broken": report.broken}, ensure_ascii=False))
        else:
            self.stdout.write(f"algorithm: {audit.hash_algo()}")
            self.stdout.write(f"sealed entries checked: {report.checked} (chain head #{report.sealed_head})")
            self.stdout.write(f"unsealed tail: {report.unsealed} entries (not yet chained; MACs checked)")
            if report.ok:
                self.stdout.write(self.style.SUCCESS("OK: no entry altered, removed or inserted"))
            else:
                first = report.broken[0]
                self.stdout.write(self.style.ERROR(
                    f"BROKEN: first broken link at seq={first['seq']} id={first['id']}: {first['reason']}"))
                for extra in report.broken[1:20]:
                    self.stdout.write(f"  also: seq={extra['seq']} id={extra['id']}: {extra['reason']}")
        if not report.ok:
            raise CommandError("audit chain verification failed", returncode=1)

    def _rotate(self):
        import os

        from django.conf import settings

        if os.environ.get("BIHUAN_AUDIT_KEY"):
            # The key is managed outside Bihuan: say what to change, change nothing.
            raise CommandError(
                "BIHUAN_AUDIT_KEY comes from the environment, so rotate it there: set BIHUAN_AUDIT_KEY to a "
                "new random value, add the old value to BIHUAN_AUDIT_RETIRED_KEYS (comma-separated), and "
                "restart the web server and the worker. Run `bihuan audit seal` first.")
        old_id, new_id = audit.rotate_key(settings.VAR_DIR)
        self.stdout.write(f"audit key rotated: {old_id} -> {new_id}")
        self.stdout.write(f"the old key is kept in {settings.VAR_DIR / 'audit_keys.retired'} (back it up with "
                          f"{settings.VAR_DIR / 'audit_key'}); restart the web server and the worker")
