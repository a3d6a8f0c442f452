"""``bihuan audit verify`` / ``seal`` / ``checkpoint`` / ``acknowledge`` / ``rotate-key``.

``verify`` never crashes on what it finds: malformed rows, quarantined entries and checkpoint
mismatches are reported, and the exit status is 1. Recovery after an incident is
``acknowledge --reason``, which is itself an audit entry (docs/audit.md).
"""

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
        v.add_argument("--checkpoint", nargs="?", const="", metavar="FILE",
                       help="Also check the chain against a checkpoint file (detects truncation); "
                            "without FILE: BIHUAN_AUDIT_CHECKPOINT_FILE.")
        sub.add_parser("seal", help="Chain all committed, unsealed entries now (quarantining forged ones).")
        sub.add_parser("checkpoint", help="Append a signed checkpoint of the chain head now.")
        a = sub.add_parser("acknowledge", help="Record (as an audit entry) that the quarantined entries were "
                                               "examined; verify then lists them as acknowledged.")
        a.add_argument("--reason", required=True, help="What was found and done (incident number, who).")
        sub.add_parser("rotate-key", help="Switch to a new audit key (kept in var/); entries stay verifiable.")

    def handle(self, *args, action, **opts):
        if action == "rotate-key":
            return self._rotate()
        if action == "seal":
            n = audit.seal_all()
            self.stdout.write(f"sealed {n} entries")
            if q := [e for e in audit.quarantined() if not e["acknowledged"]]:
                self.stdout.write(self.style.ERROR(f"{len(q)} entries quarantined (not chained); "
                                                   "see `bihuan audit verify`"))
            return
        if action == "checkpoint":
            from django.utils import timezone

            audit.seal_all()
            cp = audit.write_checkpoint(timezone.now(), force=True)
            self.stdout.write(f"checkpoint #{cp['seq']} appended to {audit.checkpoint_path()}" if cp
                              else "nothing sealed yet: no checkpoint")
            return
        if action == "acknowledge":
            try:
                ids = audit.acknowledge(opts["reason"])
            except ValueError as exc:
                raise CommandError(str(exc))
            self.stdout.write(f"acknowledged {len(ids)} quarantined entries: {', '.join(map(str, ids))}" if ids
                              else "no quarantined entry awaits acknowledgement")
            return
        if opts.get("seal_first"):
            audit.seal_all()
        total = AuditEntry.objects.count()
        with tqdm(total=total, desc="verify", unit="entry", disable=opts.get("json") or total < 10000,
                  file=self.stderr) as bar:
            checkpoint = opts.get("checkpoint")
            if checkpoint == "":
                checkpoint = audit.checkpoint_path()
            report = audit.verify(progress=bar.update, checkpoint=checkpoint)
        if opts.get("json"):
            self.stdout.write(json.dumps({
                "ok": report.ok, "checked": report.checked, "sealed_head": report.sealed_head,
                "unsealed": report.unsealed, "broken": report.broken, "quarantined": report.quarantined,
                "checkpoints": report.checkpoints}, ensure_ascii=False))
        else:
            self.stdout.write(f"algorithm: {audit.hash_algo()}")
            self.stdout.write(f"sealed entries checked: {report.checked} (chain head #{report.sealed_head})")
            self.stdout.write(f"unsealed tail: {report.unsealed} entries (not yet chained; MACs checked)")
            if report.checkpoints is not None:
                self.stdout.write(f"checkpoints checked: {report.checkpoints}")
            for q in report.quarantined:
                state = "acknowledged" if q["acknowledged"] else "NOT ACKNOWLEDGED"
                self.stdout.write(f"quarantined (never chained, {state}): id={q['id']}: {q['reason']}")
            if report.ok:
                self.stdout.write(self.style.SUCCESS("OK: no entry altered, removed or inserted"))
            elif not report.broken:
                self.stdout.write(self.style.ERROR(
                    "QUARANTINED entries await examination: see docs/audit.md, then `bihuan audit acknowledge`"))
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
