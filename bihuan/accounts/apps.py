from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "bihuan.accounts"
    label = "accounts"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit

        from . import signals  # noqa: F401

        audit.register_action_labels({
            "accounts.login": _("Log in"), "accounts.login_failed": _("Failed login"),
            "accounts.logout": _("Log out"), "accounts.user.create": _("Create a user"),
            "accounts.user.update": _("Change a user"), "accounts.user.password": _("Change a password"),
            "accounts.binding.create": _("Grant a role"), "accounts.binding.delete": _("Withdraw a role"),
            "accounts.token.create": _("Create an API token"), "accounts.token.revoke": _("Revoke an API token"),
        })
