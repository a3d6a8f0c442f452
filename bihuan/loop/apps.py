from django.apps import AppConfig


class LoopConfig(AppConfig):
    name = "bihuan.loop"
    label = "loop"
    verbose_name = "闭环 loop"

    def ready(self):
        from bihuan.core import jobs

        def _sweep(now):
            from .sweep import sweep

            return sweep(now)

        # Every minute: reminders and escalations (idempotent, so overlapping runs are harmless).
        jobs.register("loop.sweep", every_seconds=60)(_sweep)

        from bihuan.core.calendar import calendar_changed

        def _recalculate(sender, years, **kwargs):
            # Deadlines computed while those years were unknown: counted again, in the worker.
            jobs.enqueue("bihuan.loop.services.recalculate_deadlines_task", sorted(years),
                         name="loop.recalculate_deadlines")

        calendar_changed.connect(_recalculate, weak=False, dispatch_uid="loop.recalculate_deadlines")
