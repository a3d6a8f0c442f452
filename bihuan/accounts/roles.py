"""Built-in roles (see DESIGN.md "Roles"). Admins can add more; these are ensured by migration."""

from django.utils.translation import gettext_noop as _

BUILTIN_ROLES = [
    {"code": "city_admin", "name": _("City administrator"), "default_scope": "all",
     "permissions": ["orgs.unit.view", "orgs.unit.change", "orgs.unit.move", "orgs.unit.import",
                     "orgs.unit.export", "accounts.user.view", "accounts.user.manage", "core.audit.view",
                     "people.person.reveal", "people.person.view", "people.person.change", "people.person.needs", "people.person.import",
                     "people.person.export", "people.household.view", "people.household.change",
                     "people.household.import", "people.household.export", "people.person.export_unmasked"]},
    {"code": "county_admin", "name": _("County administrator"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view", "orgs.unit.change", "orgs.unit.move", "orgs.unit.import",
                     "orgs.unit.export", "accounts.user.view", "accounts.user.manage", "core.audit.view",
                     "people.person.view", "people.person.change", "people.person.needs", "people.person.import",
                     "people.person.export", "people.household.view", "people.household.change",
                     "people.household.import", "people.household.export", "people.person.reveal"]},
    {"code": "township_staff", "name": _("Township staff"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view", "orgs.unit.export", "accounts.user.view",
                     "people.person.view", "people.person.change", "people.person.import", "people.person.export",
                     "people.household.view", "people.household.change", "people.household.import",
                     "people.household.export"]},
    {"code": "village_secretary", "name": _("Village secretary"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view", "people.person.view", "people.person.change", "people.person.needs",
                     "people.person.reveal", "people.person.export", "people.household.view",
                     "people.household.change", "people.household.export"]},
    {"code": "grid_worker", "name": _("Grid worker"), "default_scope": "subtree",
     "permissions": ["orgs.unit.view", "people.person.view", "people.household.view"]},
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


# --- the loop (issue 4): granted on top of the lists above ---------------------------------
LOOP_ALL = ["loop.matter.view", "loop.matter.create", "loop.matter.dispatch", "loop.matter.handle",
            "loop.matter.evaluate", "loop.matter.supervise"]
LOOP_GRANTS = {
    "city_admin": [*LOOP_ALL, "loop.matter.reveal", "loop.category.manage", "core.calendar.manage"],
    "county_admin": LOOP_ALL,
    "township_staff": LOOP_ALL,
    "village_secretary": ["loop.matter.view", "loop.matter.create", "loop.matter.handle"],
    "grid_worker": ["loop.matter.view", "loop.matter.create"],
}
for _spec in BUILTIN_ROLES:
    _spec["permissions"] = [*_spec["permissions"],
                            *[p for p in LOOP_GRANTS.get(_spec["code"], []) if p not in _spec["permissions"]]]


# --- the loop (issue 4): granted on top of the lists above ---------------------------------
LOOP_ALL = ["loop.matter.view", "loop.matter.create", "loop.matter.dispatch", "loop.matter.handle",
            "loop.matter.evaluate", "loop.matter.supervise"]
LOOP_GRANTS = {
    "city_admin": [*LOOP_ALL, "loop.matter.reveal", "loop.category.manage", "core.calendar.manage"],
    "county_admin": LOOP_ALL,
    "township_staff": LOOP_ALL,
    "village_secretary": ["loop.matter.view", "loop.matter.create", "loop.matter.handle"],
    "grid_worker": ["loop.matter.view", "loop.matter.create"],
}
for _spec in BUILTIN_ROLES:
    _spec["permissions"] = [*_spec["permissions"],
                            *[p for p in LOOP_GRANTS.get(_spec["code"], []) if p not in _spec["permissions"]]]
