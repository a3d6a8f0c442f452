from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "bihuan.reports"
    label = "reports"
    verbose_name = "调度通报 reports"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit, jobs

        audit.register_action_labels({
            "reports.bulletin.draft": _("Draft a dispatch bulletin"),
            "reports.bulletin.edit": _("Edit a bulletin's requirements"),
            "reports.bulletin.issue": _("Issue a dispatch bulletin"),
            "reports.bulletin.read": _("Read a dispatch bulletin (receipt)"),
            "reports.schedule.set": _("Schedule a dispatch bulletin"),
        })

        def _produce(now):
            from .services import produce_due

            return produce_due(now)

        # Every 5 minutes: scheduled bulletins whose time has come are drafted (one per slot).
        jobs.register("reports.produce", every_seconds=5 * 60)(_produce)

        from . import home

        home.register_defaults()
