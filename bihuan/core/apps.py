from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bihuan.core"
    label = "core"
    verbose_name = "核心"

    def ready(self):
        # ``<id:…>`` in URL patterns (bihuan.core.converters), before any URLconf is loaded.
        from .converters import register

        register()
        from django.db.models.signals import post_delete, post_save
        from django.utils.translation import gettext_lazy as _

        # Registers the daily imports.cleanup job (bihuan.core.jobs).
        from . import audit, imports  # noqa: F401
        from .calendar import overrides_changed
        from .models import CalendarOverride

        # The process's shared calendar overrides are forgotten on every change (core.calendar).
        post_save.connect(overrides_changed, sender=CalendarOverride, dispatch_uid="calendar-overrides-save")
        post_delete.connect(overrides_changed, sender=CalendarOverride, dispatch_uid="calendar-overrides-delete")

        audit.register_action_labels({
            "core.calendar.override": _("Set a working-day override"),
            "core.calendar.override.delete": _("Remove a working-day override"),
            "core.backup.create": _("Create a backup"),
            "core.backup.restore": _("Restore a backup"),
            audit.ACK_ACTION: _("Acknowledge quarantined audit entries"),
            "seed": _("Generate demo data"),
        })
