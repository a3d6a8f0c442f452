from django.apps import AppConfig


class LoopConfig(AppConfig):
    name = "bihuan.loop"
    label = "loop"
    verbose_name = "闭环 loop"

    def ready(self):
        from bihuan.core import jobs

        from . import sources

        sources.register()  # evaluation sources and the report section (core.registry)

        def _sweep(now):
            from .sweep import sweep

            return sweep(now)

        # Every minute: reminders and escalations (idempotent, so overlapping runs are harmless).
        jobs.register("loop.sweep", every_seconds=60)(_sweep)

