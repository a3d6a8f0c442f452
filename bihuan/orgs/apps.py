from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "bihuan.orgs"
    label = "orgs"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit

        audit.register_action_labels({
            "orgs.unit.create": _("Create an organisation unit"), "orgs.unit.update": _("Change an organisation unit"),
            "orgs.unit.move": _("Move an organisation unit"), "orgs.partyorg.create": _("Create a party organisation"),
        })
