"""Forms of the user pages: they parse and check input; ``accounts.services`` decides and writes."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.core.scope import scope_for
from bihuan.orgs import selectors as org_selectors

from . import selectors
from .models import Role, ScopeMode


class PasswordResetForm(StyledMixin, forms.Form):
    password = forms.CharField(label=_("New temporary password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=_("The user must change it at the next login."))


# --- users ------------------------------------------------------------------------------
class _UnitRoleMixin:
    def _setup_unit_role(self, actor):
        self.actor = actor
        ids = [r.pk for r in selectors.grantable_roles(actor)]
        self.fields["role"].queryset = Role.objects.filter(pk__in=ids).order_by("id")
        self.fields["role"].label_from_instance = lambda r: _role_label(r)
        modes = list(ScopeMode.choices)
        if not (scope_for(actor, "accounts.user.manage").all or scope_for(actor, "accounts.role.manage").all):
            modes = [m for m in modes if m[0] != ScopeMode.ALL]
        self.fields["scope"].choices = [("", _("Role default"))] + modes

    def clean_unit_code(self):
        unit = org_selectors.current_unit_by_code(self.actor, self.cleaned_data.get("unit_code"))
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
            unit = org_selectors.current_unit_by_code(self.actor, code)
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


class OTPResetForm(StyledMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200,
                             help_text=_("For example: phone lost, reported by telephone on …"))
