"""Page forms of the care app: edge validation (types, lengths, ranges, control characters).

The services check everything again; these give the phone a clear message per field."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.core.text import has_control

from .models import CHECKLIST, NEEDS, HelperKind, Living, MealMode, Outcome, Risk, ServiceKind, Support


def no_control_chars(value: str) -> None:
    if has_control((value or "").replace("\n", "").replace("\r", "").replace("\t", "")):
        raise ValidationError(_("Control characters are not allowed."))


class SurveyForm(StyledMixin, forms.Form):
    surveyed_on = forms.DateField(label=_("Surveyed on"), widget=forms.DateInput(attrs={"type": "date"}))
    living = forms.ChoiceField(label=_("Living situation"), choices=Living.choices, widget=forms.RadioSelect)
    help = forms.MultipleChoiceField(label=_("Needs help with"), required=False, choices=CHECKLIST,
                                     widget=forms.CheckboxSelectMultiple)
    income_support = forms.ChoiceField(label=_("Income support"), choices=Support.choices)
    needs = forms.MultipleChoiceField(label=_("Needs"), required=False, choices=NEEDS,
                                      widget=forms.CheckboxSelectMultiple)
    risk = forms.ChoiceField(label=_("Risk level"), choices=Risk.choices)
    contact_name = forms.CharField(label=_("Emergency contact"), required=False, max_length=50,
                                   validators=[no_control_chars])
    contact_relation = forms.CharField(label=_("Relation"), required=False, max_length=20,
                                       validators=[no_control_chars])
    contact_phone = forms.CharField(label=_("Contact phone"), required=False, max_length=20,
                                    validators=[no_control_chars], widget=forms.TextInput(attrs={"inputmode": "tel"}))
    health_notes = forms.CharField(label=_("Health notes (encrypted)"), required=False, max_length=2000,
                                   validators=[no_control_chars], widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, can_health: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_health:
            del self.fields["health_notes"]


class PlanForm(StyledMixin, forms.Form):
    starts_on = forms.DateField(label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), required=False, max_length=200, validators=[no_control_chars])


class ServiceForm(StyledMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Service"), choices=ServiceKind.choices)
    label = forms.CharField(label=_("Label"), required=False, max_length=40, validators=[no_control_chars])
    rrule = forms.CharField(label=_("Recurrence (RFC 5545)"), max_length=300, initial="FREQ=DAILY",
                            validators=[no_control_chars],
                            help_text=_("FREQ=DAILY every day; FREQ=WEEKLY;BYDAY=MO every Monday; "
                                        "FREQ=MONTHLY;BYMONTHDAY=1 on the 1st."))
    window_start = forms.TimeField(label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}))
    window_end = forms.TimeField(label=_("Until"), widget=forms.TimeInput(attrs={"type": "time"}))
    helper = forms.TypedChoiceField(label=_("Helper"), coerce=int)
    backup = forms.TypedChoiceField(label=_("Backup helper"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, helpers=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(h.pk, f"{h.person.name} · {h.get_kind_display()}") for h in helpers]
        self.fields["helper"].choices = choices
        self.fields["backup"].choices = [("", "—"), *choices]


class HelperForm(StyledMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Helper"), choices=HelperKind.choices)
    password = forms.CharField(label=_("First password of the new login"), max_length=128, required=False,
                               widget=forms.PasswordInput(render_value=False),
                               help_text=_("A volunteer without a login gets one (role volunteer: only their "
                                           "own visits); they change it at first login."))


class CheckInForm(StyledMixin, forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=500, validators=[no_control_chars],
                           widget=forms.Textarea(attrs={"rows": 1}))


class ReasonForm(StyledMixin, forms.Form):
    reason = forms.CharField(label=_("Why you need the number"), min_length=4, max_length=200,
                             validators=[no_control_chars])


class RecordForm(StyledMixin, forms.Form):
    member = forms.TypedChoiceField(label=_("Member"), coerce=int)
    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.DecimalField(label=_("Hours"), min_value=0.25, max_value=24, max_digits=5, decimal_places=2)
    description = forms.CharField(label=_("Service"), max_length=200, validators=[no_control_chars])

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [(m.pk, m.person.name) for m in members]


class CanteenForm(StyledMixin, forms.Form):
    unit = forms.TypedChoiceField(label=_("Village or community"), coerce=int)
    name = forms.CharField(label=_("Canteen name"), max_length=60, validators=[no_control_chars])
    address = forms.CharField(label=_("Address"), required=False, max_length=200, validators=[no_control_chars])
    seats = forms.IntegerField(label=_("Seats"), min_value=0, max_value=2000, initial=0)
    eat_in = forms.BooleanField(label=_("Serves eat-in meals"), required=False, initial=True)
    delivery = forms.BooleanField(label=_("Delivers meals"), required=False, initial=True)

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]


class ServeForm(StyledMixin, forms.Form):
    mode = forms.ChoiceField(label=_("Served"), choices=MealMode.choices, required=False)


class DinersForm(StyledMixin, forms.Form):
    other_diners = forms.IntegerField(label=_("Other diners"), min_value=0, max_value=5000)
