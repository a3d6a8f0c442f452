from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The loop's audit action codes as people read them (docs/glossary.md for the words).
AUDIT_LABELS = {
    "loop.matter.create": _("Register a matter"),
    "loop.matter.dispatch": _("Dispatch a matter"),
    "loop.matter.accept": _("Accept a matter"),
    "loop.matter.send_back": _("Send a matter back"),
    "loop.matter.report_done": _("Report a matter done"),
    "loop.matter.evaluate": _("Evaluate a matter"),
    "loop.matter.rate": _("Record a return-visit rating"),
    "loop.matter.remind": _("Remind (催办)"),
    "loop.matter.flag": _("Flagged supervision (挂牌督办)"),
    "loop.matter.request_extension": _("Request an extension"),
    "loop.matter.decide_extension": _("Decide an extension"),
    "loop.matter.reopen": _("Reopen a matter"),
    "loop.matter.merge": _("Merge a matter"),
    "loop.matter.similar_sweep": _("Similar-case sweep (举一反三)"),
    "loop.matter.close_with": _("Close with the matter merged into"),
    "loop.matter.recalculate": _("Recalculate deadlines"),
    "loop.matter.reveal": _("Reveal a reporter's phone"),
    "loop.category.create": _("Create a category"),
    "loop.category.update": _("Change a category"),
    "loop.category.activate": _("Activate or deactivate a category"),
    "loop.category.delete": _("Delete a category"),
    "loop.routing.create": _("Create a routing rule"),
    "loop.routing.delete": _("Delete a routing rule"),
    "loop.notification.read": _("Mark a notification read"),
    "loop.notification.read_all": _("Mark all notifications read"),
    "loop.seed.bulk": _("Generate demo matters"),
}


class LoopConfig(AppConfig):
    name = "bihuan.loop"
    label = "loop"
    verbose_name = "闭环 loop"

    def ready(self):
        from bihuan.core import audit, jobs

        from . import sources
        from .models import Matter, MatterAssist
        from .selectors import AnyOf

        sources.register()  # evaluation sources and the report section (core.registry)
        from . import dashboard

        dashboard.register()  # the command dashboard's panel and the home page's card (core.registry)
        audit.register_action_labels(AUDIT_LABELS)

        # ``any_of`` (selectors.AnyOf) is registered here, once, and only on the fields the
        # narrowed scope queries use; importing selectors changes no lookup anywhere.
        for field in (Matter._meta.pk, *(Matter._meta.get_field(f) for f in ("location_unit", "handling_unit",
                                                                              "dispatch_unit")),
                      MatterAssist._meta.get_field("unit")):
            field.register_lookup(AnyOf)

        def _sweep(now):
            from .sweep import sweep

            return sweep(now)

        # Every minute: reminders and escalations (idempotent, so overlapping runs are harmless).
        jobs.register("loop.sweep", every_seconds=60)(_sweep)

