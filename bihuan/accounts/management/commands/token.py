"""``bihuan token create USERNAME`` / ``list`` / ``revoke``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bihuan.accounts.models import ApiToken, User
from bihuan.accounts.services import create_token, revoke_token
from bihuan.core.context import acting_as


class Command(BaseCommand):
    help = "Create, list and revoke API bearer tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create", help="Print a new bearer token for USERNAME (shown once).")
        c.add_argument("username")
        c.add_argument("--name", default="cli")
        c.add_argument("--days", type=int, default=None, help="Expire after this many days.")
        ls = sub.add_parser("list", help="List tokens (prefixes only).")
        ls.add_argument("--user", default=None)
        r = sub.add_parser("revoke", help="Revoke by token prefix (e.g. bh_AbCdEfG) or id.")
        r.add_argument("token")

    def handle(self, *args, action, **opts):
        with acting_as(None, username="cli"):
            if action == "create":
                user = User.objects.filter(username=opts["username"]).first()
                if user is None:
                    raise CommandError(f"no user {opts['username']!r}")
                _, token = create_token(user, name=opts["name"], days=opts["days"])
                self.stdout.write(token)
            elif action == "list":
                qs = ApiToken.objects.select_related("user")
                if opts.get("user"):
                    qs = qs.filter(user__username=opts["user"])
                for t in qs[:500]:
                    state = "revoked" if t.revoked_at else ("expires " + t.expires_at.isoformat() if t.expires_at else "active")
                    self.stdout.write(f"{t.id}\t{t.prefix}…\t{t.user.username}\t{t.name}\t{state}")
            else:
                key = opts["token"]
                qs = ApiToken.objects.filter(id=int(key)) if key.isdigit() else ApiToken.objects.filter(prefix=key[:10])
                found = list(qs[:2])
                if len(found) != 1:
                    raise CommandError("no such token" if not found else "prefix is ambiguous; use the id")
                revoke_token(found[0])
                self.stdout.write(f"revoked {found[0].prefix}…")
