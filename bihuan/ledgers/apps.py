from django.apps import AppConfig


class LedgersConfig(AppConfig):
    name = "bihuan.ledgers"
    label = "ledgers"
    verbose_name = "台账 ledgers"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit, jobs

        audit.register_action_labels({
            "ledgers.register.create": _("Define a register"), "ledgers.register.change": _("Change a register"),
            "ledgers.entry.create": _("Add a register entry"), "ledgers.entry.update": _("Change a register entry"),
            "ledgers.entry.delete": _("Delete a register entry"),
            "ledgers.entry.reveal": _("Reveal a personal value of a register entry"),
            "ledgers.entry.file": _("Download a file of a register entry"),
            "ledgers.entry.import": _("Import register entries"), "ledgers.entry.export": _("Export register entries"),
            "ledgers.round.open": _("Open a collection round"), "ledgers.round.submit": _("Submit in a collection round"),
            "ledgers.round.return": _("Return a submission"),
            "ledgers.round.escalate": _("Open a matter for a late submission"),
            "ledgers.office.proposal": _("Receive a proposal at a representative office"),
        })

        from . import sources

        sources.register()  # evaluation sources and report section (core.registry)

        def _sweep(now):
            from .services import open_late_matters

            return open_late_matters(now)

        # Every hour: one loop matter per unit that missed a collection round's deadline (idempotent
        # per round and unit, so overlapping runs open nothing twice).
        jobs.register("ledgers.sweep", every_seconds=60 * 60)(_sweep)
