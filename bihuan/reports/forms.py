"""Page forms of reports: edge validation (choices, lengths, control characters)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bihuan.core.text import has_control

from . import kinds
from .services import MAX_PARAGRAPH, MAX_PARAGRAPHS

MAX_UNITS = 500  # choices offered (a city has ~170 units of township level or above)
WEEKDAYS = [("", _("every day")), ("0", _("Monday")), ("1", _("Tuesday")), ("2", _("Wednesday")),
            ("3", _("Thursday")), ("4", _("Friday")), ("5", _("Saturday")), ("6", _("Sunday"))]


def _template_choices():
    return [(t.code, t.label) for t in kinds.TEMPLATES.values()]


class DraftForm(forms.Form):
    template = forms.ChoiceField(label=_("Bulletin"), choices=_template_choices)
    unit = forms.TypedChoiceField(label=_("Issuing unit"), coerce=int)
    period = forms.CharField(label=_("Period"), max_length=12,
                             help_text=_("Week 2026-W48, month 2026-11, quarter 2026-Q4 or day 2026-11-30"))

    def __init__(self, *args, units=(), **kw):
        super().__init__(*args, **kw)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units[:MAX_UNITS]]

    def clean_period(self):
        v = self.cleaned_data["period"].strip()
        if has_control(v):
            raise forms.ValidationError(_("Control characters are not allowed."))
        return v


class TextForm(forms.Form):
    text = forms.CharField(label=_("Requirements and next steps"), required=False,
                           max_length=MAX_PARAGRAPHS * (MAX_PARAGRAPH + 2),
                           widget=forms.Textarea(attrs={"rows": 8}),
                           help_text=_("Separate paragraphs with an empty line."))
    version = forms.IntegerField(min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput)


class ScheduleForm(forms.Form):
    template = forms.ChoiceField(label=_("Bulletin"), choices=_template_choices)
    unit = forms.TypedChoiceField(label=_("Issuing unit"), coerce=int)
    weekday = forms.ChoiceField(label=_("Weekday"), choices=WEEKDAYS, required=False)
    hour = forms.IntegerField(label=_("Hour"), min_value=0, max_value=23, initial=8)
    minute = forms.IntegerField(label=_("Minute"), min_value=0, max_value=59, initial=0)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, units=(), **kw):
        super().__init__(*args, **kw)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units[:MAX_UNITS]]


class FiguresForm(forms.Form):
    """Any registered section for a unit and a period, as a chart page or XLSX."""

    # a long section label must not widen the page past a phone's width
    section = forms.ChoiceField(label=_("Figures"), widget=forms.Select(attrs={"style": "max-width: 100%"}))
    unit = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    period = forms.CharField(max_length=12, required=False)
    rule = forms.ChoiceField(choices=[("week", _("week")), ("month", _("month")), ("quarter", _("quarter")),
                                      ("day", _("day"))], required=False)

    def __init__(self, *args, **kw):
        from bihuan.core import registry

        super().__init__(*args, **kw)
        self.fields["section"].choices = [(s.name, s.label) for s in registry.SECTIONS.values()]
