"""Forms of the configuration pages (categories, routing rules, calendar overrides).

They only parse; the bounds and every other rule are checked by ``loop.config`` and
``core.calendar`` so the API, the CLI and the pages refuse the same input with the same message.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.orgs.models import OrgUnit

from .models import Kind

ACTIVE_CHOICES = [("active", _("Active")), ("inactive", _("Inactive")), ("all", _("All"))]


class _Form(StyledMixin, forms.Form):
    pass


class CategoryForm(_Form):
    code = forms.CharField(label=_("Code"), max_length=40,
                           help_text=_("Lower-case letters, digits, '-' and '_'; used by the API and exports. "
                                       "It cannot be changed later."))
    name = forms.CharField(label=_("Name"), max_length=60)
    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices)
    accept_hours = forms.DecimalField(label=_("Acceptance limit (working hours)"),
                                      help_text=_("From dispatch until the handling unit must accept it."))
    handle_days = forms.IntegerField(label=_("Handling limit (working days)"),
                                     help_text=_("Due at 17:30 on this working day after the dispatch day."))
    warn_percent = forms.IntegerField(
        # xgettext:no-python-format
        label=_("Warning point (% of the handling time)"),
        help_text=_("The light turns yellow and a reminder goes out when this share of the time is used."))
    max_extensions = forms.IntegerField(label=_("Extensions allowed"))
    max_extension_days = forms.IntegerField(label=_("Longest extension (working days)"))
    open311_code = forms.CharField(label=_("Open311 service code"), max_length=40, required=False,
                                   help_text=_("Set it to offer this category to residents (web form and Open311)."))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def __init__(self, *args, editing: bool = False, **kw):
        super().__init__(*args, **kw)
        if editing:
            del self.fields["code"]
        for name in ("accept_hours", "handle_days", "warn_percent", "max_extensions", "max_extension_days"):
            self.fields[name].widget.attrs["inputmode"] = "decimal" if name == "accept_hours" else "numeric"


class CategoryFilterForm(_Form):
    q = forms.CharField(label=_("Name or code"), max_length=60, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("All"))] + list(Kind.choices), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=ACTIVE_CHOICES, required=False)


class UnitCodeField(forms.CharField):
    """A unit typed as its code (the tree is too large for a select); resolved by the view."""

    def __init__(self, **kw):
        kw.setdefault("max_length", 40)
        super().__init__(**kw)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})


class RoutingRuleForm(_Form):
    location = UnitCodeField(label=_("Place (code of the unit; it and everything below it)"),
                             help_text=_("For example 370811008201 for 芦庙村."))
    handling_unit = UnitCodeField(label=_("Handling unit (code)"))
    note = forms.CharField(label=_("Note"), max_length=100, required=False)

    def __init__(self, *args, units=None, **kw):
        super().__init__(*args, **kw)
        self._units = units  # a queryset of the units the actor may route within

    def _unit(self, name):
        code = (self.cleaned_data.get(name) or "").strip()
        unit = self._units.filter(code=code, valid_to__isnull=True).first() if code else None
        if unit is None:
            raise forms.ValidationError(_("No current unit with this code is in your area."))
        return unit

    def clean_location(self) -> OrgUnit:
        return self._unit("location")

    def clean_handling_unit(self) -> OrgUnit:
        return self._unit("handling_unit")


class OverrideForm(_Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    is_workday = forms.TypedChoiceField(
        label=_("This day is"), coerce=lambda v: v == "1", widget=forms.RadioSelect,
        choices=[("0", _("a day off (holiday)")), ("1", _("a working day (adjusted workday 调休)"))])
    note = forms.CharField(label=_("Note"), max_length=100, required=False,
                           help_text=_("For example 春节 or 国庆节调休."))
