"""Forms of the organisation-tree pages: they parse and check input; ``orgs.services`` decides and writes."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin

from . import selectors
from .models import OrgUnit, PartyOrg, PartyOrgKind

DATE = forms.DateInput(attrs={"type": "date"})


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
        # Likely targets are listed; anything else in scope can be given by code.
        self.fields["new_parent"].queryset = selectors.move_candidates(user, unit)
        self.fields["new_parent"].label_from_instance = lambda u: f"{u.name} ({u.code})"

    def clean(self):
        data = super().clean()
        chosen, code = data.get("new_parent"), (data.get("new_parent_code") or "").strip()
        if chosen and code:
            raise ValidationError(_("Choose the new parent from the list or give its code, not both."))
        if code:
            found = selectors.current_unit_by_code(self.user, code, "move")
            if found is None:
                self.add_error("new_parent_code", _("No current unit with this code is in your scope."))
            data["new_parent"] = found
        elif not chosen:
            raise ValidationError(_("Choose the new parent unit."))
        return data
