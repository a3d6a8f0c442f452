"""``bihuan open311 key create NAME`` / ``key list`` / ``key revoke KEY-PREFIX|ID|NAME``.

The api_key is printed once by ``create``; only its SHA-256 is stored.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError
from bihuan.loop import public
from bihuan.loop.models import Open311Key


class Command(BaseCommand):
    help = "Open311 GeoReport v2: manage the api_keys of client applications."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        key = sub.add_parser("key", help="Create, list and revoke api_keys.")
        ks = key.add_subparsers(dest="action", required=True)
        c = ks.add_parser("create", help="Print a new api_key for the client NAME (shown once).")
        c.add_argument("name")
        ks.add_parser("list", help="List keys (prefixes only).")
        r = ks.add_parser("revoke", help="Revoke a key by id, prefix (o311_…) or name.")
        r.add_argument("key")

    def handle(self, *args, what, action, **opts):
        with acting_as(None, username="cli"):
            if action == "create":
                try:
                    _, key = public.create_key(opts["name"])
                except ServiceError as exc:
                    raise CommandError(str(exc.message))
                self.stdout.write(key)
            elif action == "list":
                for k in Open311Key.objects.order_by("id")[:1000]:
                    state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
                    used = f"last used {k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never used"
                    self.stdout.write(f"{k.id}\t{k.prefix}…\t{k.name}\t{state}\t{k.uses} requests, {used}")
            else:
                found = list(public.keys_matching(opts["key"])[:2])
                if len(found) != 1:
                    raise CommandError("no such key" if not found else "ambiguous; use the id")
                public.revoke_key(found[0])
                self.stdout.write(f"revoked {found[0].prefix}… ({found[0].name})")
