from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "bihuan.evaluation"
    label = "evaluation"
    verbose_name = "结果评估 evaluation"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit, jobs

        from . import sources

        sources.register()  # the source evaluation.score and the section evaluation.stars (core.registry)
        # h-reports2: the star distribution panel of the command dashboard (core.registry)
        from . import dashboard

        dashboard.register()
        audit.register_action_labels({
            "evaluation.set.create": _("Indicator set created"),
            "evaluation.run.compute": _("Assessment run computed"),
            "evaluation.run.publish": _("Assessment results published"),
            "evaluation.run.freeze": _("Assessment results frozen"),
            "evaluation.run.correct": _("Assessment results corrected (new version)"),
            "evaluation.score.enter": _("Manual score entered"),
            "evaluation.score.approve": _("Manual score approved"),
            "evaluation.incident.record": _("Incident recorded (deduction or veto)"),
            "evaluation.incident.approve": _("Incident approved (deduction or veto)"),
            "evaluation.selection.create": _("Selection round opened"),
            "evaluation.selection.nominate": _("Nominated for a selection"),
            "evaluation.selection.review": _("Nomination reviewed"),
            "evaluation.selection.publicise": _("Selection publicised (public notice)"),
            "evaluation.selection.name": _("Selection named"),
            "evaluation.objection.lodge": _("Objection to a result lodged"),
            "evaluation.rule.create": _("Point rule created"),
            "evaluation.points.award": _("Credit points awarded"),
            "evaluation.points.approve": _("Credit points approved"),
            "evaluation.points.reverse": _("Credit points reversed"),
            "evaluation.item.create": _("Points store item created"),
            "evaluation.item.restock": _("Points store item restocked"),
            "evaluation.points.redeem": _("Points redeemed"),
            "evaluation.points.expire": _("Credit points expired"),
            "evaluation.points.auto": _("Credit points awarded automatically"),  # points2
            "evaluation.points.link": _("Balance link made for a household"),  # points2
        })

        def _freeze(now):
            from .services import freeze_due

            return freeze_due(now)

        # Hourly: published runs whose public notice has ended are frozen.
        jobs.register("evaluation.freeze", every_seconds=60 * 60)(_freeze)

        def _expire(now):
            from .services import expire_points

            return expire_points(now)["households"]

        # Daily: points past the expiry policy (BIHUAN_POINTS_EXPIRY_YEARS) lapse, once per household and year.
        jobs.register("evaluation.points_expiry", every_seconds=24 * 60 * 60)(_expire)

        # points2, hourly: automatic rules award approved volunteer hours, once per service record.
        def _auto(now):
            from .services import auto_award

            return auto_award(now)["awarded"]

        jobs.register("evaluation.points_auto", every_seconds=60 * 60)(_auto)
