"""Built-in roles (see DESIGN.md "Roles"). Admins can add more; these are ensured by migration."""

from django.utils.translation import gettext_noop as _

BUILTIN_ROLES = [
    {"code": "city_admin", "name": _("City administrator"), "default_scope": "all",
     "permissions": ["orgs.unit.view", "orgs.unit.change", "orgs.unit.move", "orgs.unit.import",
                     "orgs.unit.export", "accounts.user.view", "accounts.user.manage", "core.audit.view",
                     "people.person.reveal"]},
    {"code": "county_admin", "name": _("County administrator"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view", "orgs.unit.change", "orgs.unit.move", "orgs.unit.import",
                     "orgs.unit.export", "accounts.user.view", "accounts.user.manage", "core.audit.view"]},
    {"code": "township_staff", "name": _("Township staff"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view", "orgs.unit.export", "accounts.user.view"]},
    {"code": "village_secretary", "name": _("Village secretary"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view"]},
    {"code": "grid_worker", "name": _("Grid worker"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view"]},
    {"code": "volunteer", "name": _("Volunteer"), "default_scope": "self", "permissions": ["orgs.unit.view"]},
    {"code": "lecturer", "name": _("Lecturer"), "default_scope": "self", "permissions": ["orgs.unit.view"]},
]


def ensure_builtin_roles(Role) -> None:
    """Create missing built-in roles and add new permissions to existing ones (never removes)."""
    for spec in BUILTIN_ROLES:
        role, created = Role.objects.get_or_create(
            code=spec["code"],
            defaults={"name": spec["name"], "permissions": spec["permissions"],
                      "default_scope": spec["default_scope"]})
        if not created:
            merged = sorted(set(role.permissions) | set(spec["permissions"]))
            if merged != sorted(role.permissions):
                role.permissions = merged
                role.save(update_fields=["permissions"])
