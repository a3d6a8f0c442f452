"""Demo users across the levels of the seeded tree (see ``bihuan.orgs.seed``).

Users are created through ``services.create_user`` so their bindings and audit entries
are the real ones. The usernames are fixed: checks and the README rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from bihuan.orgs import seed as org_seed
from bihuan.orgs.models import OrgUnit

from . import services
from .models import Role, User

# One password for every demo account (listed in the README). Demo data only.
DEMO_PASSWORD = "Bihuan-Demo-2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    unit_code: str
    role: str
    display_name: str


# Made by the apps' seeds, not here (care, activities), and listed with the others.
APP_DEMO_USERNAMES = ["lumiao_volunteer", "yanzhou_lecturer", "yanzhou_reviewer1", "yanzhou_reviewer2"]

DEMO_USERS = [
    DemoUser("city_admin", org_seed.CODE_CITY, "city_admin", "济宁市管理员（演示）"),
    DemoUser("rencheng_admin", org_seed.CODE_RENCHENG, "county_admin", "任城区管理员（演示）"),
    DemoUser("yanzhou_admin", org_seed.CODE_YANZHOU, "county_admin", "兖州区管理员（演示）"),
    DemoUser("liying_staff", org_seed.CODE_LIYING, "township_staff", "李营街道工作人员（演示）"),
    DemoUser("lumiao_secretary", org_seed.CODE_LUMIAO, "village_secretary", "芦庙村书记（演示）"),
    DemoUser("lumiao_grid", org_seed.CODE_LUMIAO_GRID, "grid_worker", "芦庙村网格员（演示）"),
]


def ensure_demo_users() -> list[tuple[DemoUser, bool]]:
    """Create the demo users that are missing. Returns (spec, created) for each one present."""
    out = []
    for spec in DEMO_USERS:
        if User.objects.filter(username=spec.username).exists():
            out.append((spec, False))
            continue
        unit = OrgUnit.objects.filter(code=spec.unit_code, valid_to__isnull=True).first()
        if unit is None:
            continue  # a tree that is not the demo one: skip rather than guess
        services.create_user(None, username=spec.username, password=DEMO_PASSWORD,
                             display_name=spec.display_name, unit=unit, role=Role.objects.get(code=spec.role),
                             must_change_password=False)
        out.append((spec, True))
    return out


def print_logins(out, url: str | None = None) -> None:
    """The demo logins table (username, password, role, unit) for the terminal."""
    units = dict(OrgUnit.objects.filter(code__in=[u.unit_code for u in DEMO_USERS], valid_to__isnull=True)
                 .values_list("code", "name"))
    present = set(User.objects.filter(username__in=[u.username for u in DEMO_USERS])
                  .values_list("username", flat=True))
    out.write("\nDemo logins" + (f" at {url}" if url else "") + f" (password for all: {DEMO_PASSWORD})\n")
    out.write(f"  {'username':<18} {'role':<18} unit\n")
    for u in DEMO_USERS:
        if u.username in present:
            out.write(f"  {u.username:<18} {u.role:<18} {units.get(u.unit_code, '?')} ({u.unit_code})\n")
    # Logins the apps' demo seeds add (care's volunteer, the lecturer, two reviewers), read from
    # their bindings so the table says what they really are.
    from .models import Binding

    for b in (Binding.objects.filter(user__username__in=APP_DEMO_USERNAMES).select_related("user", "role", "unit")
              .order_by("user__username")):
        out.write(f"  {b.user.username:<18} {b.role.code:<18} {b.unit.name} ({b.unit.code})\n")
    if not settings.BIHUAN_2FA_REQUIRED_FOR:
        out.write("  Two-factor login is not required in this demo (var/2fa_required_for); any user may turn it on\n"
                  "  from the home page. Production requires it of administrators (BIHUAN_2FA_REQUIRED_FOR).\n")
    missing = [u.username for u in DEMO_USERS if u.username not in present]
    if missing:
        out.write(f"  (not created: {', '.join(missing)} — run `bihuan seed --scale demo` on an empty database)\n")


def relax_two_factor_for_demo() -> bool:
    """The demo logins work with the password alone: ``var/2fa_required_for`` says "none".

    settings.py reads it only when BIHUAN_2FA_REQUIRED_FOR is unset and never in production;
    users may still enrol. Returns True when the file was written now."""
    import os

    path = settings.VAR_DIR / "2fa_required_for"
    if os.environ.get("BIHUAN_2FA_REQUIRED_FOR") is not None or settings.PRODUCTION or path.exists():
        return False
    path.write_text("none\n")
    return True


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The demo users' step of ``bihuan seed``: create whichever are missing."""
    created = sum(1 for _, new in ensure_demo_users() if new)
    out = {"demo_users_created": created}
    if scale == "demo":
        out["two_factor_relaxed"] = relax_two_factor_for_demo()
    return out


def report(out) -> None:
    print_logins(out)
