"""Web forms: they parse and check input; the services decide and write."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.accounts.models import Role, ScopeMode
from bihuan.core.forms import StyledMixin, apply_service_error  # noqa: F401 - the web views import both from here
from bihuan.orgs.models import OrgUnit, PartyOrg, PartyOrgKind


def current_unit_by_code(user, code: str, action: str = "view") -> OrgUnit | None:
    """The current (not expired) unit with ``code`` inside the user's scope, or None."""
    code = (code or "").strip()
    if not code:
        return None
    return OrgUnit.objects.restrict(user, action).filter(code=code, valid_to__isnull=True).first()


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


class OTPResetForm(StyledMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200,
                             help_text=_("For example: phone lost, reported by telephone on …"))


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


class PasswordResetForm(StyledMixin, forms.Form):
    password = forms.CharField(label=_("New temporary password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=_("The user must change it at the next login."))


# --- organisation tree ------------------------------------------------------------------
class SearchForm(forms.Form):
    q = forms.CharField(label=_("Name or code"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"class": "form-control", "type": "search",
                                                      "placeholder": _("Search name or code")}))


class UnitCreateForm(StyledMixin, forms.Form):
    code = forms.CharField(label=_("Division code"), max_length=15)
    name = forms.CharField(label=_("Name"), max_length=100)
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=DATE)
    sort = forms.IntegerField(label=_("Sort order"), required=False, initial=0)


class UnitEditForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(label=_("Division code"), max_length=15)
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=DATE)
    valid_to = forms.DateField(label=_("Valid to"), required=False, widget=DATE,
                               help_text=_("Set when the unit or its code stops being current."))
    sort = forms.IntegerField(label=_("Sort order"), required=False)


class PartyOrgForm(StyledMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=PartyOrgKind.choices)
    name = forms.CharField(label=_("Name"), max_length=120)
    parent = forms.ModelChoiceField(label=_("Parent party organisation"), required=False,
                                    queryset=PartyOrg.objects.none())
    established = forms.DateField(label=_("Established"), required=False, widget=DATE)

    def __init__(self, *args, user, unit: OrgUnit, **kwargs):
        super().__init__(*args, **kwargs)
        # A party organisation reports to one on this unit or on an ancestor the user can see.
        self.fields["parent"].queryset = (PartyOrg.objects.restrict(user, "view")
                                          .filter(unit_id__in=unit.ancestor_ids())
                                          .select_related("unit"))


class MoveForm(StyledMixin, forms.Form):
    new_parent = forms.ModelChoiceField(label=_("New parent unit"), required=False, queryset=OrgUnit.objects.none())
    new_parent_code = forms.CharField(label=_("…or the new parent's division code"), required=False, max_length=15)
    new_code = forms.CharField(label=_("New division code"), required=False, max_length=15,
                               help_text=_("Only needed when the current code does not fit the new parent."))

    def __init__(self, *args, user, unit: OrgUnit, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.unit = user, unit
        # Likely targets: units of the parent's level under the same grandparent (a bounded list);
        # anything else in scope can be given by code.
        candidates = OrgUnit.objects.restrict(user, "move").filter(level=unit.level - 1, valid_to__isnull=True)
        grandparent_path = "/".join(unit.path.split("/")[:-3]) + "/" if unit.depth >= 2 else ""
        if grandparent_path:
            candidates = candidates.filter(path__startswith=grandparent_path)
        self.fields["new_parent"].queryset = candidates.exclude(pk=unit.parent_id).order_by("path")
        self.fields["new_parent"].label_from_instance = lambda u: f"{u.name} ({u.code})"

    def clean(self):
        data = super().clean()
        chosen, code = data.get("new_parent"), (data.get("new_parent_code") or "").strip()
        if chosen and code:
            raise ValidationError(_("Choose the new parent from the list or give its code, not both."))
        if code:
            found = current_unit_by_code(self.user, code, "move")
            if found is None:
                self.add_error("new_parent_code", _("No current unit with this code is in your scope."))
            data["new_parent"] = found
        elif not chosen:
            raise ValidationError(_("Choose the new parent unit."))
        return data


# --- users ------------------------------------------------------------------------------
def grantable_roles(actor) -> list[Role]:
    """Roles whose permissions the actor holds: the service refuses the rest anyway."""
    return [r for r in Role.objects.order_by("id") if all(actor.has_perm_anywhere(p) for p in r.permissions)]


class _UnitRoleMixin:
    def _setup_unit_role(self, actor):
        self.actor = actor
        ids = [r.pk for r in grantable_roles(actor)]
        self.fields["role"].queryset = Role.objects.filter(pk__in=ids).order_by("id")
        self.fields["role"].label_from_instance = lambda r: _role_label(r)
        modes = list(ScopeMode.choices)
        if not actor.get_scope("accounts.user.manage").all:
            modes = [m for m in modes if m[0] != ScopeMode.ALL]
        self.fields["scope"].choices = [("", _("Role default"))] + modes

    def clean_unit_code(self):
        unit = current_unit_by_code(self.actor, self.cleaned_data.get("unit_code"))
        if unit is None:
            raise ValidationError(_("No current unit with this code is in your scope."))
        self.cleaned_data["unit"] = unit
        return self.cleaned_data["unit_code"]


def _role_label(role: Role) -> str:
    from django.utils.translation import gettext

    return gettext(role.name)


class UserCreateForm(StyledMixin, _UnitRoleMixin, forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    password = forms.CharField(label=_("Initial password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=_("The user must change it at the first login."))
    unit_code = forms.CharField(label=_("Unit (division code)"), max_length=15)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())
    scope = forms.ChoiceField(label=_("Scope"), required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_unit_role(actor)

    def clean_username(self):
        value = self.cleaned_data["username"].strip()
        if not re.fullmatch(r"[\w.@+-]+", value):
            raise ValidationError(_("Use letters, digits and @ . + - _ only."))
        return value


class BindingForm(StyledMixin, _UnitRoleMixin, forms.Form):
    unit_code = forms.CharField(label=_("Unit (division code)"), max_length=15)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())
    scope = forms.ChoiceField(label=_("Scope"), required=False)
    custom_codes = forms.CharField(label=_("Custom units (division codes)"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 2}),
                                   help_text=_("For a custom scope: codes separated by spaces or commas."))

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_unit_role(actor)

    def clean_custom_codes(self):
        codes = [c for c in re.split(r"[\s,，;；]+", self.cleaned_data.get("custom_codes") or "") if c]
        units, missing = [], []
        for code in dict.fromkeys(codes):
            unit = current_unit_by_code(self.actor, code)
            (units.append(unit) if unit else missing.append(code))
        if missing:
            raise ValidationError(_("Not in your scope: %(codes)s") % {"codes": ", ".join(missing)})
        self.cleaned_data["custom_units"] = units
        return self.cleaned_data["custom_codes"]

    def clean(self):
        data = super().clean()
        if data.get("scope") == ScopeMode.CUSTOM and not data.get("custom_units") and "custom_codes" not in self.errors:
            self.add_error("custom_codes", _("A custom scope needs at least one unit."))
        return data


class UserFilterForm(StyledMixin, forms.Form):
    username = forms.CharField(label=_("Username"), required=False, max_length=150)
    unit = forms.CharField(label=_("Unit code"), required=False, max_length=15)
    role = forms.ModelChoiceField(label=_("Role"), required=False, queryset=Role.objects.order_by("id"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].label_from_instance = _role_label


# --- audit ------------------------------------------------------------------------------
class AuditFilterForm(StyledMixin, forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.CharField(label=_("Action"), required=False, max_length=64,
                             help_text=_("Prefix, e.g. orgs.unit"))
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=DATE)
    until = forms.DateField(label=_("To"), required=False, widget=DATE)

