"""``bihuan registers``: register definitions between deployments, and a register's entries as XLSX.

* ``bihuan registers load FILE`` — definitions from a JSON file (``{"registers": [...]}``, as the
  definition page downloads it); new codes are created, known ones changed under the same rules;
* ``bihuan registers load-builtin`` — the seven built-in registers (``ledgers.builtin``);
* ``bihuan registers dump [CODE …]`` — definitions as JSON on stdout;
* ``bihuan registers import CODE FILE`` / ``bihuan registers export CODE [-o FILE]`` — entries.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from bihuan.core import tabular as tb
from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError


class Command(BaseCommand):
    help = "Register (台账) definitions and entries: load, load-builtin, dump, import, export."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["load", "load-builtin", "dump", "import", "export"])
        parser.add_argument("args", nargs="*")
        parser.add_argument("--user", metavar="USERNAME", help="Act as this user (default: the system).")
        parser.add_argument("-o", "--output", help="export: the .xlsx file to write (default: ledger-CODE.xlsx)")
        parser.add_argument("--dry-run", action="store_true", help="import: check only, write nothing")

    def handle(self, *args, action, **opts):
        from bihuan.ledgers import builtin, services
        from bihuan.ledgers.models import Register
        from bihuan.ledgers.tabular import kind_for

        try:
            user = tb.cli_user(opts.get("user"))
        except tb.TabularError as exc:
            raise CommandError(str(exc.message))
        with acting_as(user):
            try:
                if action == "load-builtin":
                    self.stdout.write(json.dumps(builtin.load(user)))
                elif action == "load":
                    if len(args) != 1:
                        raise CommandError("usage: bihuan registers load FILE")
                    try:
                        with open(args[0], encoding="utf-8") as fh:
                            data = json.load(fh)
                    except (OSError, ValueError) as exc:
                        raise CommandError(f"cannot read {args[0]}: {exc}")
                    self.stdout.write(json.dumps(services.load_definitions(user, data)))
                elif action == "dump":
                    qs = Register.objects.all() if not args else Register.objects.filter(code__in=args)
                    out = [{"code": r.code, "name": r.name, "level": r.level, "description": r.description,
                            "fields": r.fields} for r in qs.order_by("code")]
                    self.stdout.write(json.dumps({"registers": out}, ensure_ascii=False, indent=1))
                elif action == "import":
                    if len(args) != 2:
                        raise CommandError("usage: bihuan registers import CODE FILE")
                    kind = kind_for(services.get_register(user, args[0]))
                    result = tb.run_import(kind, tb.open_source(args[1]), user=user, dry_run=opts["dry_run"])
                    for e in result.errors[:50]:
                        self.stdout.write(f"  row {e.row} [{e.column}]: {e.message}")
                    self.stdout.write(json.dumps(result.summary(), ensure_ascii=False))
                    if not result.applied and not result.dry_run:
                        raise CommandError("nothing was imported", returncode=1)
                elif action == "export":
                    if len(args) != 1:
                        raise CommandError("usage: bihuan registers export CODE [-o FILE]")
                    r = services.get_register(user, args[0])
                    path = opts.get("output") or f"ledger-{r.code}.xlsx"
                    with open(path, "wb") as fh:
                        n = tb.export(kind_for(r), fh, user=user)
                    self.stdout.write(f"{n} rows → {path}")
            except ServiceError as exc:
                raise CommandError(str(exc.message))
