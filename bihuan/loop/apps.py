from django.apps import AppConfig


class LoopConfig(AppConfig):
    name = "bihuan.loop"
    label = "loop"
    verbose_name = "闭环 loop"

    def ready(self):
        from bihuan.core import jobs

        from . import sources
        from .models import Matter, MatterAssist
        from .selectors import AnyOf

        sources.register()  # evaluation sources and the report section (core.registry)

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

