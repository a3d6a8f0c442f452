from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

AUDIT_LABELS = {
    "care.survey.create": _("Record a care needs survey"),
    "care.survey.read_health": _("Read the health notes of a care survey"),
    "care.helper.create": _("Register a care helper"),
    "care.plan.create": _("Create a care plan"),
    "care.service.create": _("Add a care service"),
    "care.service.update": _("Change a care service"),
    "care.visit.generate": _("Generate a day's care visits"),
    "care.visit.checkin": _("Check in a care visit"),
    "care.visit.escalate": _("Open a matter for a care visit"),
    "care.team.create": _("Create a volunteer team"),
    "care.team.member": _("Add a volunteer team member"),
    "care.team.certificate": _("Issue a certificate of volunteer service"),
    "care.record.create": _("Record volunteer service hours"),
    "care.record.decide": _("Approve or reject volunteer service hours"),
    "care.canteen.create": _("Open a canteen (幸福食堂)"),
    "care.canteen.serve": _("Record a meal served at a canteen"),
    "care.canteen.unserve": _("Take back a meal recorded at a canteen"),
    "care.canteen.diners": _("Record a canteen's other diners"),
}


class CareConfig(AppConfig):
    name = "bihuan.care"
    label = "care"
    verbose_name = "关爱 care"

    def ready(self):
        from bihuan.core import audit, jobs

        from . import sources

        sources.register()  # evaluation sources and the report section (core.registry)
        from . import home

        home.register()  # today's visits on the home page (core.registry)
        from . import dashboard

        dashboard.register()  # today's visits in the subtree on the command dashboard (core.registry)
        audit.register_action_labels(AUDIT_LABELS)

        def _generate(now):
            from django.utils import timezone

            from .services import generate

            today = timezone.localtime(now).date()
            from datetime import timedelta

            return {"today": generate(today, now=now), "tomorrow": generate(today + timedelta(days=1), now=now)}

        def _sweep(now):
            from .services import sweep

            return sweep(now)

        # Hourly: today's and tomorrow's visits from the rules (idempotent: nothing made twice).
        jobs.register("care.generate", every_seconds=60 * 60)(_generate)
        # Every 5 minutes: one loop matter per missed visit, once, and the backup helper told.
        jobs.register("care.sweep", every_seconds=5 * 60)(_sweep)
