"""Web forms for people: they parse input; the services validate and write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin

from .choices import AgeBand, Education, Flag, Gender, GridRole, PartyStatus, Relation, Role
from .models import FLAG_FIELDS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")




def _blank(choices) -> list:
    return [("", "—")] + [(v, label) for v, label in choices if v]


class PersonFilterForm(StyledMixin, forms.Form):
    q = forms.CharField(label=_("Name, pinyin initials, ID or phone"), required=False, max_length=50)
    unit = forms.CharField(label=_("Unit code"), required=False, max_length=15)
    role = forms.ChoiceField(label=_("Role"), required=False, choices=_blank(Role.choices))
    flag = forms.ChoiceField(label=_("Flag"), required=False, choices=_blank(Flag.choices))


class ReserveFilterForm(StyledMixin, forms.Form):
    unit = forms.CharField(label=_("Unit code"), required=False, max_length=15)
    age_band = forms.ChoiceField(label=_("Age band"), required=False, choices=_blank(AgeBand.choices))
    education = forms.ChoiceField(label=_("Education"), required=False, choices=_blank(Education.choices))


class PersonForm(StyledMixin, forms.Form):
    unit = forms.CharField(label=_("Unit or grid code"), max_length=15)
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=20, required=False,
                                help_text=_("18 characters; a 15-digit legacy number is upgraded."))
    gender = forms.ChoiceField(label=_("Gender"), required=False, choices=_blank(Gender.choices))
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=DATE)
    phone = forms.CharField(label=_("Phone"), max_length=24, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    party_status = forms.ChoiceField(label=_("Party status"), required=False, choices=_blank(PartyStatus.choices))
    party_joined = forms.DateField(label=_("Joined the party"), required=False, widget=DATE)
    is_volunteer = forms.BooleanField(label=_("Volunteer"), required=False)
    is_lecturer = forms.BooleanField(label=_("Lecturer"), required=False)
    is_reserve = forms.BooleanField(label=_("Reserve talent"), required=False)
    education = forms.ChoiceField(label=_("Education"), required=False, choices=_blank(Education.choices))
    skills = forms.CharField(label=_("Skills"), max_length=200, required=False)
    grid_role = forms.ChoiceField(label=_("Grid role"), required=False, choices=_blank(GridRole.choices))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["id_number"].help_text = _("Leave empty to keep the registered number.")
            self.fields["phone"].help_text = _("Leave empty to keep the registered phone.")


class VulnerabilityForm(StyledMixin, forms.Form):
    living_alone = forms.BooleanField(label=_("living alone"), required=False)
    elderly = forms.BooleanField(label=_("elderly"), required=False)
    hardship = forms.BooleanField(label=_("hardship"), required=False)
    disability = forms.BooleanField(label=_("disability"), required=False)
    chronic_illness = forms.BooleanField(label=_("chronic illness"), required=False)
    left_behind_child = forms.BooleanField(label=_("left-behind child"), required=False)
    surveyed_on = forms.DateField(label=_("Surveyed on"), required=False, widget=DATE)
    needs = forms.CharField(label=_("Needs (sensitive)"), required=False, max_length=2000,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, can_needs: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_needs:
            del self.fields["needs"]

    def flags(self) -> dict:
        return {f: self.cleaned_data[f] for f in FLAG_FIELDS}


class RevealForm(StyledMixin, forms.Form):
    field = forms.ChoiceField(choices=[("id_number", _("ID number")), ("phone", _("Phone"))],
                              label=_("Which number to show"))
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             help_text=_("Recorded in the audit log with your name."))


class HouseholdForm(StyledMixin, forms.Form):
    unit = forms.CharField(label=_("Grid or village code"), max_length=15)
    address = forms.CharField(label=_("Address"), max_length=200)
    code = forms.CharField(label=_("Household number"), max_length=32, required=False,
                           help_text=_("Left empty, a number is given."))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class MemberForm(StyledMixin, forms.Form):
    person = forms.CharField(label=_("Person (ID number, or person number)"), max_length=20)
    relation = forms.ChoiceField(label=_("Relation to head"), choices=_blank(Relation.choices))


class CarerForm(StyledMixin, forms.Form):
    carer = forms.ChoiceField(label=_("Linked party member"), required=False)

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carer"].choices = [("", "—")] + [(str(p.pk), f"{p.name} ({p.unit.name})") for p in candidates]
