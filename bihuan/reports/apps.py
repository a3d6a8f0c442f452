from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "bihuan.reports"
    label = "reports"
    verbose_name = "调度通报 reports"

    def ready(self):
        from bihuan.core import jobs

        def _produce(now):
            from .services import produce_due

            return produce_due(now)

        # Every 5 minutes: scheduled bulletins whose time has come are drafted (one per slot).
        jobs.register("reports.produce", every_seconds=5 * 60)(_produce)

        from . import home

        home.register_defaults()
