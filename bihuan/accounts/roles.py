"""Built-in roles (see DESIGN.md "Roles"). Admins can add more; these are ensured by migration.

The last three are the platform administrators of separation of duties (三员分立, MLPS level 3,
docs/security.md): the system administrator runs users, the tree and configuration; the security
administrator runs roles, bindings and security settings; the audit administrator reads and checks
the audit log. None holds another's duty, nor any business or personal data; the three duty sets
below are disjoint, and tests/test_security.py holds them to it.
"""

from django.utils.translation import gettext_noop as _

# Permission groups, so each role below reads as "what this person does".
TREE_READ = ["orgs.unit.view"]
TREE_ADMIN = ["orgs.unit.view", "orgs.unit.change", "orgs.unit.move", "orgs.unit.import", "orgs.unit.export"]
USER_ADMIN = ["accounts.user.view", "accounts.user.manage", "core.audit.view"]
PEOPLE_READ = ["people.person.view", "people.household.view"]
PEOPLE_KEEP = [*PEOPLE_READ, "people.person.change", "people.household.change", "people.person.export",
               "people.household.export"]
PEOPLE_IMPORT = ["people.person.import", "people.household.import"]
LOOP_ALL = ["loop.matter.view", "loop.matter.create", "loop.matter.dispatch", "loop.matter.handle",
            "loop.matter.evaluate", "loop.matter.supervise"]
PLANS_READ = ["plans.plan.view", "plans.assignment.view"]
PLANS_WORK = [*PLANS_READ, "plans.assignment.checkin", "plans.assignment.supervise"]
REPORTS_READ = ["reports.bulletin.view", "reports.dashboard.view"]
REPORTS_WORK = [*REPORTS_READ, "reports.bulletin.draft", "reports.bulletin.issue"]
PLANS_ADMIN = ["plans.plan.manage", "plans.plan.import", "plans.plan.export"]
REGISTERS_WORK = ["plans.project.view", "plans.project.report", "plans.enterprise.view", "plans.enterprise.demand"]
REGISTERS_ADMIN = [*REGISTERS_WORK, "plans.project.manage", "plans.project.import", "plans.project.export",
                   "plans.enterprise.manage", "plans.enterprise.import", "plans.enterprise.export"]
CARE_READ = ["care.survey.view", "care.plan.view", "care.visit.view", "care.team.view", "care.canteen.view"]
CARE_KEEP = [*CARE_READ, "care.survey.change", "care.survey.export", "care.plan.manage", "care.visit.checkin",
             "care.team.manage", "care.canteen.record", "care.canteen.manage", "care.plan.export"]
CARE_ADMIN = [*CARE_KEEP, "care.survey.health", "care.survey.import", "care.plan.import"]
# A volunteer (self scope): the visits they are paired to, and checking them in. Nothing else.
CARE_VOLUNTEER = ["care.visit.view", "care.visit.checkin"]
LECTURES_READ = ["activities.team.view", "activities.session.view", "activities.order.view"]
LECTURES_LOCAL = [*LECTURES_READ, "activities.session.record", "activities.order.create"]
LECTURES_ADMIN = [*LECTURES_LOCAL, "activities.team.manage", "activities.order.match", "activities.lecturer.import",
                  "activities.lecturer.export"]
# A lecturer (own records only): their profile, their sessions and the orders matched to them.
LECTURER = [*LECTURES_READ, "activities.session.record", "activities.order.accept"]
# Party life (issue 15 items 7–9): re-election terms, contact points, on-site reviews.
PARTY_LIFE_READ = ["activities.election.view", "activities.contact.view", "activities.review.view"]
PARTY_LIFE_WORK = [*PARTY_LIFE_READ, "activities.contact.visit", "activities.review.score"]
PARTY_LIFE_ADMIN = [*PARTY_LIFE_WORK, "activities.election.record", "activities.election.export",
                    "activities.contact.manage", "activities.review.manage"]
# Party meetings and member development: a branch (village) records its own; committees above also
# read the political review notes; the city sets the meeting frequencies.
PARTY_READ = ["activities.meeting.view", "activities.applicant.view"]
PARTY_BRANCH = [*PARTY_READ, "activities.meeting.record", "activities.applicant.manage", "activities.meeting.import",
                "activities.meeting.export", "activities.applicant.import", "activities.applicant.export"]
PARTY_COMMITTEE = [*PARTY_BRANCH, "activities.applicant.review"]
LEDGERS_READ = ["ledgers.entry.view", "ledgers.round.view"]
LEDGERS_KEEP = [*LEDGERS_READ, "ledgers.entry.change", "ledgers.entry.import", "ledgers.entry.export",
                "ledgers.round.submit"]
LEDGERS_ADMIN = [*LEDGERS_KEEP, "ledgers.round.manage", "ledgers.entry.reveal", "ledgers.register.manage"]
EVAL_READ = ["evaluation.result.view", "evaluation.points.view", "evaluation.selection.view"]
EVAL_ASSESS = [*EVAL_READ, "evaluation.set.view", "evaluation.run.view", "evaluation.score.view",
               "evaluation.score.enter", "evaluation.score.approve", "evaluation.result.export",
               "evaluation.result.object", "evaluation.selection.nominate", "evaluation.score.import",
               "evaluation.score.export"]
EVAL_ADMIN = ["evaluation.set.manage", "evaluation.run.manage", "evaluation.selection.manage",
              "evaluation.set.import", "evaluation.set.export"]
POINTS_WORK = ["evaluation.points.view", "evaluation.points.award", "evaluation.points.redeem"]
POINTS_ADMIN = [*POINTS_WORK, "evaluation.points.approve", "evaluation.points.manage"]

# The duties of separation of duties, each held by exactly one of the three administrator roles.
SYSTEM_DUTY = [*(p for p in TREE_ADMIN if p != "orgs.unit.view"), "accounts.user.manage", "core.calendar.manage", "loop.category.manage"]
SECURITY_DUTY = ["accounts.role.manage", "accounts.security.manage"]
AUDIT_DUTY = ["core.audit.view"]
# Seeing who the users are and the tree is shared by the system and security administrators (one
# cannot grant a role to a user one cannot find, at a unit one cannot name); it shows no business data.
SHARED_ADMIN_READ = ["accounts.user.view", "orgs.unit.view"]

BUILTIN_ROLES = [
    {"code": "city_admin", "name": _("City administrator"), "default_scope": "all",
     "permissions": [*TREE_ADMIN, *USER_ADMIN, *PEOPLE_KEEP, *PEOPLE_IMPORT, "people.person.needs",
                     "people.person.reveal", "people.person.export_unmasked", *LOOP_ALL, "loop.matter.reveal",
                     "loop.category.manage", "core.calendar.manage", *PLANS_WORK, *PLANS_ADMIN,
                     *REGISTERS_ADMIN, *CARE_ADMIN,
                     *LECTURES_ADMIN, *LEDGERS_ADMIN, *EVAL_ASSESS, *EVAL_ADMIN, *POINTS_ADMIN,
                     *REPORTS_WORK, *PARTY_LIFE_ADMIN, *PARTY_COMMITTEE, "activities.meeting.rules"]},
    {"code": "county_admin", "name": _("County administrator"), "default_scope": "subtree",
     "permissions": [*TREE_ADMIN, *USER_ADMIN, *PEOPLE_KEEP, *PEOPLE_IMPORT, "people.person.needs",
                     "people.person.reveal", *LOOP_ALL, *PLANS_WORK, *PLANS_ADMIN, *REGISTERS_ADMIN, *CARE_ADMIN,
                     *LECTURES_ADMIN, *LEDGERS_ADMIN, *EVAL_ASSESS, *EVAL_ADMIN, *POINTS_ADMIN,
                     *REPORTS_WORK, *PARTY_LIFE_ADMIN, *PARTY_COMMITTEE]},
    {"code": "township_staff", "name": _("Township staff"), "default_scope": "subtree",
     "permissions": [*TREE_READ, "orgs.unit.export", "accounts.user.view", *PEOPLE_KEEP, *PEOPLE_IMPORT,
                     *LOOP_ALL, *PLANS_WORK, *REGISTERS_WORK, *CARE_KEEP, *LECTURES_LOCAL,
                     *LEDGERS_KEEP, "ledgers.round.manage", *EVAL_ASSESS, *POINTS_ADMIN, *REPORTS_READ,
                     *PARTY_LIFE_WORK, *PARTY_COMMITTEE]},
    {"code": "village_secretary", "name": _("Village secretary"), "default_scope": "subtree",
     "permissions": [*TREE_READ, *PEOPLE_KEEP, "people.person.needs", "people.person.reveal",
                     "loop.matter.view", "loop.matter.create", "loop.matter.handle", *PLANS_READ,
                     "plans.assignment.checkin", *CARE_ADMIN, *LECTURES_LOCAL, *LEDGERS_KEEP,
                     *EVAL_READ, "evaluation.result.object", "evaluation.selection.nominate", *POINTS_WORK,
                     "evaluation.points.approve", "reports.bulletin.view", *PARTY_LIFE_READ, *PARTY_BRANCH]},
    {"code": "grid_worker", "name": _("Grid worker"), "default_scope": "subtree",
     "permissions": [*TREE_READ, *PEOPLE_READ, "loop.matter.view", "loop.matter.create", *CARE_READ,
                     "care.survey.change", "care.visit.checkin", "evaluation.points.view", "evaluation.points.award"]},
    {"code": "volunteer", "name": _("Volunteer"), "default_scope": "self",
     "permissions": [*TREE_READ, *CARE_VOLUNTEER]},
    {"code": "lecturer", "name": _("Lecturer"), "default_scope": "self", "permissions": [*TREE_READ, *LECTURER]},
    # 三员分立: three administrators, none able to do another's work (see the module docstring).
    {"code": "system_admin", "name": _("System administrator"), "default_scope": "all",
     "permissions": [*SHARED_ADMIN_READ, *SYSTEM_DUTY]},
    {"code": "security_admin", "name": _("Security administrator"), "default_scope": "all",
     "permissions": [*SHARED_ADMIN_READ, *SECURITY_DUTY]},
    {"code": "audit_admin", "name": _("Audit administrator"), "default_scope": "all",
     "permissions": [*AUDIT_DUTY]},
]

# Groups overlap (an app's "admin" set holds its "read" set): each role lists a permission once.
for _spec in BUILTIN_ROLES:
    _spec["permissions"] = list(dict.fromkeys(_spec["permissions"]))

SEPARATED_ROLES = {"system_admin": SYSTEM_DUTY, "security_admin": SECURITY_DUTY, "audit_admin": AUDIT_DUTY}


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
