from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "bihuan.plans"
    label = "plans"
    verbose_name = "挂图作战 plans"

    def ready(self):
        from bihuan.core import jobs

        from . import sources

        sources.register()  # evaluation source and report section (core.registry)
        from . import dashboard

        dashboard.register()  # the campaign countdown panel and the check-ins home card (core.registry)

        from bihuan.loop import transitions

        from .services import campaigns, checkin_owed

        # A matter opened for a missed check-in is reported done only after that check-in.
        transitions.register_precondition("report_done", checkin_owed)
        transitions.register_precondition("report_done", campaigns.checkin_owed)

        def _supervise(now):
            from .services import campaigns, open_overdue_matters

            return {**open_overdue_matters(now), "campaign": campaigns.open_overdue_matters(now)}

        # Every 15 minutes: one loop matter per missed check-in or milestone (idempotent per
        # assignment and due period, so overlapping runs open nothing twice).
        jobs.register("plans.supervise", every_seconds=15 * 60)(_supervise)
