"""Page forms of the plans app: edge validation (types, lengths, ranges, control characters)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin

from .models import Status


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
