"""Page forms of the plans app: edge validation (types, lengths, ranges, control characters)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.orgs.models import OrgUnit

from .models import CampaignCadence, ProjectLevel, Status


def no_control_chars(value: str) -> None:
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value or ""):
        raise ValidationError(_("Control characters are not allowed."))


class CheckInForm(StyledMixin, forms.Form):
    """One task's check-in on "my tasks" (evidence files come from ``request.FILES['evidence']``)."""

    value = forms.DecimalField(label=_("Value toward the target"), required=False, max_digits=14, decimal_places=2,
                               min_value=-999999999999, max_value=999999999999)
    note = forms.CharField(label=_("Status note"), required=False, max_length=2000, validators=[no_control_chars],
                           widget=forms.Textarea(attrs={"rows": 2}))
    milestone = forms.TypedChoiceField(label=_("Milestone reached"), required=False, coerce=int, empty_value=None)
    completed = forms.BooleanField(label=_("Task completed"), required=False)

    def __init__(self, *args, assignment=None, **kwargs):
        super().__init__(*args, **kwargs)
        ms = list(assignment.task.milestones.all()) if assignment is not None else []
        self.fields["milestone"].choices = [("", "—")] + [(m.pk, f"{m.name} ({m.due_on:%m-%d})") for m in ms]
        if not ms:
            del self.fields["milestone"]
        if assignment is not None and assignment.task.target_value is None:
            self.fields["value"].label = _("Value (optional)")


class SuperviseForm(StyledMixin, forms.Form):
    comment = forms.CharField(label=_("Instruction"), required=False, max_length=2000, validators=[no_control_chars],
                              widget=forms.Textarea(attrs={"rows": 2}))


class MapFilterForm(forms.Form):
    """The map's query string; anything malformed is ignored (the default map is shown)."""

    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    action = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    level = forms.IntegerField(required=False, min_value=2, max_value=5)
    sort = forms.ChoiceField(required=False, choices=[("", ""), ("done", "done"), ("-done", "-done")])


class AssignmentFilterForm(forms.Form):
    plan = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    task = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    status = forms.ChoiceField(required=False, choices=[("", "")] + list(Status.choices))


# --- campaigns ------------------------------------------------------------------------------------

TARGET_LINE = re.compile(r"^\s*(?P<code>\d{1,15})\s*[,，:：\s]\s*(?P<value>-?\d+(?:\.\d{1,2})?)\s*$")


class CampaignForm(StyledMixin, forms.Form):
    """A new campaign: who issues it, its days, cadence, and one line per unit: ``code target``."""

    unit = forms.ModelChoiceField(label=_("Issuing unit"), queryset=OrgUnit.objects.none())
    title = forms.CharField(label=_("Title"), max_length=120, validators=[no_control_chars])
    starts_on = forms.DateField(label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Ends on"), widget=forms.DateInput(attrs={"type": "date"}))
    cadence = forms.ChoiceField(label=_("Check-in cadence"), choices=CampaignCadence.choices)
    grace_days = forms.IntegerField(label=_("Grace period (working days)"), min_value=0, max_value=10, initial=1)
    target_unit = forms.CharField(label=_("Unit of measure"), max_length=20, validators=[no_control_chars])
    description = forms.CharField(label=_("Description"), required=False, max_length=5000,
                                  validators=[no_control_chars], widget=forms.Textarea(attrs={"rows": 2}))
    targets = forms.CharField(label=_("Targets (one line per unit: division code and target)"), max_length=200000,
                              widget=forms.Textarea(attrs={"rows": 6, "placeholder": "370832001000 100"}))

    def __init__(self, *args, units=None, target_units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units if units is not None else OrgUnit.objects.none()
        self.target_units = target_units  # the units the user may name (a queryset)

    def clean_targets(self):
        lines = [ln for ln in self.cleaned_data["targets"].splitlines() if ln.strip()]
        parsed = []
        for n, line in enumerate(lines, start=1):
            m = TARGET_LINE.match(line)
            if m is None:
                raise ValidationError(_("Line %(n)d: write the division code and the target, e.g. 370832001000 100.")
                                      % {"n": n})
            parsed.append((m["code"], m["value"]))
        if not parsed:
            raise ValidationError(_("Give at least one unit and its target."))
        units = {u.code: u for u in self.target_units.filter(code__in=[c for c, _v in parsed])}
        unknown = [c for c, _v in parsed if c not in units]
        if unknown:
            raise ValidationError(_("No current unit in your scope with code %(c)s.") % {"c": "、".join(unknown[:5])})
        return [(units[c], v) for c, v in parsed]


class CampaignCheckInForm(StyledMixin, forms.Form):
    value = forms.DecimalField(label=_("Reached so far"), max_digits=14, decimal_places=2, min_value=0,
                               max_value=999999999999)
    note = forms.CharField(label=_("Status note"), required=False, max_length=2000, validators=[no_control_chars],
                           widget=forms.Textarea(attrs={"rows": 2}))


class CampaignFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "")] + list(Status.choices))


# --- key projects and enterprises -----------------------------------------------------------------

class ProjectFilterForm(forms.Form):
    year = forms.IntegerField(required=False, min_value=2000, max_value=2100)
    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    level = forms.ChoiceField(required=False, choices=[("", "")] + list(ProjectLevel.choices))
    behind = forms.BooleanField(required=False)


MILESTONE_CHOICES = [("", "—"), ("start", _("Construction started (开工)")),
                     ("production", _("Production started (投产)")), ("completion", _("Completed (竣工)"))]


class ProjectReportForm(StyledMixin, forms.Form):
    month = forms.TypedChoiceField(label=_("Month"), required=False, coerce=int, empty_value=None,
                                   choices=[("", "—")] + [(m, f"{m}月") for m in range(1, 13)])
    actual = forms.DecimalField(label=_("Actual investment (10k yuan)"), required=False, max_digits=14,
                                decimal_places=2, min_value=0, max_value=999999999999)
    milestone = forms.ChoiceField(label=_("Milestone reached"), required=False, choices=MILESTONE_CHOICES)
    on = forms.DateField(label=_("Reached on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class EnterpriseFilterForm(forms.Form):
    group = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    unit = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    q = forms.CharField(required=False, max_length=60, validators=[no_control_chars])


class DemandForm(StyledMixin, forms.Form):
    title = forms.CharField(label=_("Demand"), max_length=100, validators=[no_control_chars])
    description = forms.CharField(label=_("Details"), max_length=4000, validators=[no_control_chars],
                                  widget=forms.Textarea(attrs={"rows": 3}))
