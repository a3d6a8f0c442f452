from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "bihuan.people"
    label = "people"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit

        audit.register_action_labels({
            "people.person.create": _("Register a person"), "people.person.update": _("Change a person"),
            "people.person.delete": _("Delete a person"), "people.person.reveal": _("Reveal a full number"),
            "people.person.vulnerability": _("Change vulnerability flags"),
            "people.household.create": _("Register a household"), "people.household.update": _("Change a household"),
            "people.household.member": _("Add a household member"),
            "people.household.member_remove": _("Remove a household member"),
            "people.rekey": _("Re-encrypt personal numbers"), "seed.people": _("Generate demo people"),
        })
