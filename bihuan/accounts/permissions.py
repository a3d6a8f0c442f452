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
    # Separation of duties (三员分立, docs/security.md): the security administrator's verbs.
    "accounts.role.manage": _("Define roles and grant them to users (bindings)"),
    "accounts.security.manage": _("Change security settings (password policy, lock-out, two-factor)"),
    "people.person.reveal": _("Reveal full ID and phone numbers"),
    "loop.matter.view": _("View matters (problems, demands, tasks) in scope"),
    "loop.matter.create": _("Register matters"),
    "loop.matter.dispatch": _("Dispatch, merge and route matters"),
    "loop.matter.handle": _("Accept, send back and report matters done for one's unit"),
    "loop.matter.evaluate": _("Evaluate matters, decide extensions, record ratings, reopen"),
    "loop.matter.supervise": _("Send reminders, flag for supervision, similar-case sweeps, proactive matters"),
    "loop.matter.reveal": _("Reveal a reporter's full phone number"),
    "loop.category.manage": _("Configure matter categories and routing rules"),
    "core.calendar.manage": _("Edit the working-day calendar overrides"),
    "people.person.view": _("View persons (masked)"),
    "people.person.change": _("Register and edit persons and vulnerability flags"),
    "people.person.needs": _("Read and write the sensitive needs notes of vulnerable residents"),
    "people.person.import": _("Import persons from XLSX/CSV"),
    "people.person.export": _("Export persons (masked)"),
    "people.person.export_unmasked": _("Export persons with full ID and phone numbers"),
    "people.household.view": _("View households"),
    "people.household.change": _("Register and edit households, members and linked party members"),
    "people.household.import": _("Import households from XLSX/CSV"),
    "people.household.export": _("Export households"),
    "plans.plan.view": _("View plans and the progress map"),
    "plans.plan.manage": _("Draft, change, publish, import and export plans"),
    "plans.plan.import": _("Import plans and tasks from XLSX/CSV"),
    "plans.plan.export": _("Export plans and tasks to XLSX/CSV"),
    "plans.assignment.view": _("View task assignments and check-ins"),
    "plans.assignment.checkin": _("Check in (调度) on one's unit's task assignments"),
    "plans.assignment.supervise": _("Open a supervision matter (督办) from the progress map"),
    "care.survey.view": _("View care needs surveys (masked)"),
    "care.survey.change": _("Record care needs surveys (摸排)"),
    "care.survey.health": _("Read and write the health notes of care surveys"),
    "care.survey.import": _("Import care needs surveys from XLSX/CSV"),
    "care.survey.export": _("Export care needs surveys (masked)"),
    "care.plan.view": _("View care plans, services and helpers"),
    "care.plan.manage": _("Make care plans, pair helpers and give volunteers a login"),
    "care.visit.view": _("View care visits and the care board"),
    "care.visit.checkin": _("Check in care visits one is paired to (the round)"),
    "care.team.view": _("View volunteer teams, their hours and certificates"),
    "care.team.manage": _("Make volunteer teams, add members, record and approve hours"),
}

ALL = frozenset(PERMISSIONS)
