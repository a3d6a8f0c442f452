"""Web forms: they parse and check input; the services decide and write."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin, apply_service_error  # noqa: F401 - the web views import both from here

DATE = forms.DateInput(attrs={"type": "date"})


# --- login and passwords ----------------------------------------------------------------
class LoginForm(AuthenticationForm):
    """One message for every refusal (unknown user, wrong password, locked user, throttled
    address), so the page never tells which usernames exist; the audit entry keeps the reason."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Login failed. Check the username and password and try again. After repeated "
                           "failures, logins are paused for a while."),
        "inactive": _("Login failed. Check the username and password and try again. After repeated "
                      "failures, logins are paused for a while."),
    }


class OTPCodeForm(StyledMixin, forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text",
                                                         "autofocus": True}),
                           help_text=_("The six digits from your authenticator app, or one of your recovery codes."))


class OTPEnrolForm(StyledMixin, forms.Form):
    code = forms.CharField(label=_("Code from the app"), max_length=12, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class PasswordChangeForm(StyledMixin, forms.Form):
    old_password = forms.CharField(label=_("Current password"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password1 = forms.CharField(label=_("New password"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password2 = forms.CharField(label=_("New password again"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        value = self.cleaned_data["old_password"]
        if not self.user.check_password(value):
            raise ValidationError(_("The current password is wrong."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two new passwords differ."))
        return data


# --- audit ------------------------------------------------------------------------------
class AuditFilterForm(StyledMixin, forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.CharField(label=_("Action"), required=False, max_length=64,
                             help_text=_("Prefix, e.g. orgs.unit"))
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=DATE)
    until = forms.DateField(label=_("To"), required=False, widget=DATE)

