"""Page forms of the activities app: edge validation (types, lengths, ranges, control characters)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.core.text import has_control

from .models import Audience, TeamKind


def no_control_chars(value: str) -> None:
    if has_control((value or "").replace("\r\n", "\n")):
        raise ValidationError(_("Control characters are not allowed."))


class DateInput(forms.DateInput):
    input_type = "date"


class TeamForm(StyledMixin, forms.Form):
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=None)
    name = forms.CharField(label=_("Name"), max_length=80, validators=[no_control_chars])
    kind = forms.ChoiceField(label=_("Kind"), choices=TeamKind.choices)
    topics = forms.CharField(label=_("Topics (separated by 、)"), max_length=300, required=False,
                             validators=[no_control_chars])

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units


class SessionForm(StyledMixin, forms.Form):
    lecturer = forms.ModelChoiceField(label=_("Lecturer"), queryset=None)
    place = forms.ModelChoiceField(label=_("Place"), queryset=None)
    held_on = forms.DateField(label=_("Date"), widget=DateInput)
    audience = forms.ChoiceField(label=_("Audience"), choices=Audience.choices)
    topic = forms.CharField(label=_("Topic"), max_length=80, validators=[no_control_chars])
    attendance = forms.IntegerField(label=_("Attendance"), min_value=1, max_value=100_000)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, validators=[no_control_chars],
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, lecturers=None, places=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lecturer"].queryset = lecturers
        self.fields["lecturer"].label_from_instance = lambda x: f"{x.person.name}（{x.team.name}）"
        self.fields["place"].queryset = places
        self.fields["place"].label_from_instance = lambda u: u.name


class FeedbackForm(StyledMixin, forms.Form):
    rating = forms.TypedChoiceField(label=_("Your rating"), coerce=int,
                                    choices=[(i, "★" * i) for i in range(5, 0, -1)], widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Comment (optional)"), max_length=300, required=False,
                              validators=[no_control_chars], widget=forms.Textarea(attrs={"rows": 2}))


class OrderForm(StyledMixin, forms.Form):
    unit = forms.ModelChoiceField(label=_("Ordering unit"), queryset=None)
    topic = forms.CharField(label=_("Topic"), max_length=80, validators=[no_control_chars])
    audience = forms.ChoiceField(label=_("Audience"), choices=Audience.choices)
    wanted_from = forms.DateField(label=_("From"), widget=DateInput)
    wanted_to = forms.DateField(label=_("To"), widget=DateInput)
    expected = forms.IntegerField(label=_("Expected attendance"), min_value=0, max_value=100_000, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False, validators=[no_control_chars])

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["unit"].label_from_instance = lambda u: u.name


class CoverageForm(forms.Form):
    """The coverage page's query string; anything malformed falls back to the default."""

    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)
    view = forms.ChoiceField(required=False, choices=[("", ""), ("grid", "grid"), ("table", "table")])


class SessionFilterForm(forms.Form):
    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)


# --- party life: re-election, contact points, on-site reviews (issue 15 items 7–9) --------------

class ElectionForm(StyledMixin, forms.Form):
    held_on = forms.DateField(label=_("Election held on"), widget=DateInput)
    years = forms.IntegerField(label=_("Term (years)"), min_value=1, max_value=5, required=False,
                               help_text=_("Empty: the organisation's usual term."))
    note = forms.CharField(label=_("Note"), max_length=300, required=False, validators=[no_control_chars])


class ContactForm(StyledMixin, forms.Form):
    member = forms.ModelChoiceField(label=_("Committee member"), queryset=None)
    party_org = forms.ModelChoiceField(label=_("Party branch"), queryset=None)
    since = forms.DateField(label=_("Since"), widget=DateInput)

    def __init__(self, *args, members=None, party_orgs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members
        self.fields["party_org"].queryset = party_orgs


class VisitForm(StyledMixin, forms.Form):
    visited_on = forms.DateField(label=_("Visited on"), widget=DateInput)
    topic = forms.CharField(label=_("Topic"), max_length=80, validators=[no_control_chars])
    problems = forms.CharField(label=_("Problems found"), max_length=2000, required=False,
                               widget=forms.Textarea(attrs={"rows": 3}), validators=[no_control_chars])


class ReviewForm(StyledMixin, forms.Form):
    unit = forms.ModelChoiceField(label=_("Organising unit"), queryset=None)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    quarter = forms.TypedChoiceField(label=_("Quarter"), choices=[(q, f"Q{q}") for q in range(1, 5)], coerce=int)
    theme = forms.CharField(label=_("Theme"), max_length=80, validators=[no_control_chars])
    held_on = forms.DateField(label=_("Review meeting"), widget=DateInput)
    units = forms.ModelMultipleChoiceField(label=_("Units visited"), queryset=None)
    drop_extremes = forms.BooleanField(label=_("Drop the highest and lowest score"), required=False, initial=True)

    def __init__(self, *args, units=None, visitable=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["units"].queryset = visitable


class ScoreForm(StyledMixin, forms.Form):
    unit = forms.TypedChoiceField(label=_("Unit visited"), coerce=int, choices=())
    score = forms.DecimalField(label=_("Score (0–100)"), min_value=0, max_value=100, max_digits=4, decimal_places=1)

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]


# --- party meetings and member development (issue 15 items 5–6) ---------------------------------

class MeetingForm(StyledMixin, forms.Form):
    """A meeting's fields; attendees and absentees come from the member list beside it (the view)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=[])
    held_on = forms.DateField(label=_("Date"), widget=DateInput)
    topic = forms.CharField(label=_("Topic"), max_length=120, validators=[no_control_chars])
    minutes = forms.CharField(label=_("Minutes"), max_length=20000, required=False, validators=[no_control_chars],
                              widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        from .party_rules import MeetingKind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = MeetingKind.choices


class ApplicantForm(StyledMixin, forms.Form):
    org = forms.ModelChoiceField(label=_("Party organisation"), queryset=None)
    unit = forms.ModelChoiceField(label=_("Where the applicant is registered"), queryset=None)
    name = forms.CharField(label=_("Name"), max_length=50, validators=[no_control_chars])
    applied_on = forms.DateField(label=_("Applied on"), widget=DateInput)

    def __init__(self, *args, orgs=None, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs
        self.fields["unit"].queryset = units
        self.fields["unit"].label_from_instance = lambda u: u.name


class StepForm(StyledMixin, forms.Form):
    step = forms.ChoiceField(label=_("Step"), choices=[])
    taken_on = forms.DateField(label=_("Date"), widget=DateInput)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, validators=[no_control_chars],
                           widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)

    def __init__(self, *args, steps=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["step"].choices = [(s.code, s.label) for s in steps]


class PartyFilterForm(forms.Form):
    """The party pages' query string; anything malformed falls back to the default."""

    org = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    quarter = forms.RegexField(required=False, regex=r"^\d{4}[Qq][1-4]$", max_length=6)
    stage = forms.CharField(required=False, max_length=12)
    due = forms.BooleanField(required=False)
