"""Permissions are verbs on resources: ``<app>.<resource>.<verb>``.

This is the catalogue; roles hold lists of these strings. Later apps add theirs here.
"""

from django.utils.translation import gettext_lazy as _

PERMISSIONS: dict[str, str] = {
    "orgs.unit.view": _("View units and party organisations"),
    "orgs.unit.change": _("Create and edit units and party organisations"),
    "orgs.unit.move": _("Move a subtree"),
    "orgs.unit.import": _("Import the tree from XLSX"),
    "orgs.unit.export": _("Export the tree to XLSX"),
    "accounts.user.view": _("View users"),
    "accounts.user.manage": _("Create users and bind them to units"),
    "core.audit.view": _("Read the audit log"),
    "people.person.reveal": _("Reveal full ID and phone numbers"),
}

ALL = frozenset(PERMISSIONS)
