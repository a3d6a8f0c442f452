"""Forms of the loop's pages (one module: reporting, public pages, actions on a matter, the
city's configuration). They parse input; ``loop.services``, ``loop.config`` and
``core.calendar`` decide and write, so the API, the CLI and the pages refuse the same input with
the same message."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.orgs.models import OrgUnit

from .models import Kind, Satisfaction
from .services import MAX_COMMENT, MAX_DESCRIPTION, MAX_TITLE
from .services.reveal import MAX_REASON as MAX_REVEAL_REASON


class _Form(StyledMixin, forms.Form):
    pass


class ReportForm(_Form):
    category = forms.ModelChoiceField(queryset=None, label=_("Category"), empty_label=None)
    location = forms.ModelChoiceField(queryset=None, label=_("Where"), empty_label=None)
    description = forms.CharField(label=_("What is the problem?"), max_length=MAX_DESCRIPTION,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    title = forms.CharField(label=_("Short title"), max_length=MAX_TITLE, required=False,
                            help_text=_("Optional; taken from the description when empty."))
    address = forms.CharField(label=_("Address or landmark"), max_length=200, required=False)
    reporter_name = forms.CharField(label=_("Reported by (resident's name)"), max_length=60, required=False)
    reporter_phone = forms.CharField(label=_("Resident's phone"), max_length=20, required=False,
                                     widget=forms.TextInput(attrs={"inputmode": "tel"}))

    def __init__(self, *args, categories, locations, **kw):
        super().__init__(*args, **kw)
        self.fields["category"].queryset = categories
        self.fields["location"].queryset = locations
        self.fields["location"].label_from_instance = lambda u: u.name


class PublicDemandForm(_Form):
    category = forms.ModelChoiceField(queryset=None, label=_("What is it about?"), empty_label=None)
    place = forms.CharField(label=_("Your village or community"), max_length=60,
                            help_text=_("For example 芦庙村. Type its name; we find the unit that handles it."))
    place_choice = forms.ChoiceField(label=_("Which one do you mean?"), required=False, choices=())
    description = forms.CharField(label=_("Your demand"), max_length=MAX_DESCRIPTION,
                                  widget=forms.Textarea(attrs={"rows": 5}))
    address = forms.CharField(label=_("Address or landmark"), max_length=200, required=False)
    name = forms.CharField(label=_("Your name (optional)"), max_length=60, required=False)
    phone = forms.CharField(label=_("Your phone (optional, for the return visit)"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))

    def __init__(self, *args, categories, place_choices=(), **kw):
        super().__init__(*args, **kw)
        self.fields["category"].queryset = categories
        self.fields["place_choice"].choices = [("", "—"), *place_choices]
        if not place_choices:
            self.fields["place_choice"].widget = forms.HiddenInput()


class PublicRatingForm(_Form):
    satisfaction = forms.ChoiceField(label=_("How satisfied are you?"), choices=Satisfaction.choices,
                                     widget=forms.RadioSelect)
    resolved = forms.TypedChoiceField(label=_("Was the problem resolved?"), coerce=lambda v: v == "yes",
                                      choices=[("yes", _("Yes")), ("no", _("No"))], widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Anything to add?"), max_length=MAX_COMMENT, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


# --- actions on a matter -------------------------------------------------------------------------

class ActionForm(_Form):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, action: str, **kw):
        kw.setdefault("auto_id", f"id_{action}_%s")
        super().__init__(*args, **kw)
        self.action = action

    def params(self) -> dict:
        d = dict(self.cleaned_data)
        d.pop("version", None)
        return d


def _comment(required=False, label=None):
    return forms.CharField(label=label or _("Comment"), max_length=MAX_COMMENT, required=required,
                           widget=forms.Textarea(attrs={"rows": 2}))


class DispatchForm(ActionForm):
    handling_unit = forms.ModelChoiceField(queryset=None, label=_("Lead unit (首接负责)"), empty_label=None)
    assisting_units = forms.ModelMultipleChoiceField(queryset=None, label=_("Assisting units"), required=False,
                                                     widget=forms.SelectMultiple(attrs={"size": 4}))
    comment = _comment()

    def __init__(self, *args, units=None, **kw):
        super().__init__(*args, **kw)
        self.fields["handling_unit"].queryset = units
        self.fields["assisting_units"].queryset = units
        self.fields["handling_unit"].label_from_instance = lambda u: u.name
        self.fields["assisting_units"].label_from_instance = lambda u: u.name

    def params(self) -> dict:
        d = super().params()
        d["handling_unit"] = d["handling_unit"].pk
        d["assisting_units"] = [u.pk for u in d.get("assisting_units") or []]
        return d


class CommentForm(ActionForm):
    comment = _comment()


class ReasonForm(ActionForm):
    reason = _comment(required=True, label=_("Reason"))


class ReportDoneForm(ActionForm):
    comment = _comment(required=True, label=_("What was done"))


class EvaluateForm(ActionForm):
    passed = forms.TypedChoiceField(label=_("Result"), coerce=lambda v: v == "pass", widget=forms.RadioSelect,
                                    choices=[("pass", _("Pass: close the matter")),
                                             ("fail", _("Fail: return it to the lead unit"))])
    comment = _comment(label=_("Comment (required when it fails)"))


class RateForm(ActionForm):
    satisfaction = forms.ChoiceField(label=_("Resident's satisfaction"), choices=Satisfaction.choices,
                                     widget=forms.RadioSelect)
    resolved = forms.TypedChoiceField(label=_("Resolved"), coerce=lambda v: v == "yes", widget=forms.RadioSelect,
                                      choices=[("yes", _("Yes")), ("no", _("No"))])
    comment = _comment()


class ExtensionForm(ActionForm):
    days = forms.IntegerField(label=_("Extra working days"), min_value=1, max_value=60)
    reason = _comment(required=True, label=_("Reason"))


class DecideExtensionForm(ActionForm):
    approve = forms.TypedChoiceField(label=_("Decision"), coerce=lambda v: v == "yes", widget=forms.RadioSelect,
                                     choices=[("yes", _("Approve")), ("no", _("Refuse"))])
    comment = _comment(label=_("Comment (required when refused)"))


class MergeForm(ActionForm):
    into = forms.IntegerField(label=_("Merge into matter number"), min_value=1)
    comment = _comment()


class SimilarSweepForm(ActionForm):
    title = forms.CharField(label=_("Title of the check tasks"), max_length=MAX_TITLE, required=False)
    description = forms.CharField(label=_("What to check"), max_length=MAX_DESCRIPTION, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))


ACTION_FORMS = {
    "dispatch": DispatchForm,
    "accept": CommentForm,
    "send_back": ReasonForm,
    "report_done": ReportDoneForm,
    "evaluate": EvaluateForm,
    "rate": RateForm,
    "remind": CommentForm,
    "flag": CommentForm,
    "request_extension": ExtensionForm,
    "decide_extension": DecideExtensionForm,
    "reopen": ReasonForm,
    "merge": MergeForm,
    "similar_sweep": SimilarSweepForm,
}


# --- the city's configuration: categories, routing rules, calendar overrides ----------------------
# Only parsing here; the bounds and every other rule are checked by ``loop.config`` and
# ``core.calendar``.

ACTIVE_CHOICES = [("active", _("Active")), ("inactive", _("Inactive")), ("all", _("All"))]


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


class RevealForm(StyledMixin, forms.Form):
    """Why the full reporter phone is needed (recorded in the audit log with the revealer's name)."""

    reason = forms.CharField(label=_("Reason"), max_length=MAX_REVEAL_REASON,
                             help_text=_("Recorded in the audit log with your name."))
