from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "bihuan.activities"
    label = "activities"
    verbose_name = "党建活动 activities"

    def ready(self):
        from bihuan.core import jobs

        from . import sources

        sources.register()  # evaluation sources and report section (core.registry)

        def _sweep(now):
            from .services import open_unmatched_orders

            return open_unmatched_orders(now)

        # Hourly: one loop matter per lecture order left unmatched past its limit (idempotent).
        jobs.register("activities.orders", every_seconds=60 * 60)(_sweep)
