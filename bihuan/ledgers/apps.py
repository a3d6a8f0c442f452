from django.apps import AppConfig


class LedgersConfig(AppConfig):
    name = "bihuan.ledgers"
    label = "ledgers"
    verbose_name = "台账 ledgers"

    def ready(self):
        from bihuan.core import jobs

        from . import sources

        sources.register()  # evaluation sources and report section (core.registry)

        def _sweep(now):
            from .services import open_late_matters

            return open_late_matters(now)

        # Every hour: one loop matter per unit that missed a collection round's deadline (idempotent
        # per round and unit, so overlapping runs open nothing twice).
        jobs.register("ledgers.sweep", every_seconds=60 * 60)(_sweep)
