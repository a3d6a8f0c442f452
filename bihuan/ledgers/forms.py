"""Page forms of the ledgers app: edge validation only (types, lengths, control characters).
Whether a value fits its field is decided once, by ``ledgers.fields.validate`` in the services;
its field messages land on the form fields of the same name (``core.views.submit``)."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bihuan.core.forms import StyledMixin
from bihuan.core.scope import units_q
from bihuan.core.text import has_control
from bihuan.orgs.models import Level, OrgUnit

from . import fields as fl
from . import files

MAX_UNITS = 500


def no_control_chars(value) -> None:
    if isinstance(value, str) and has_control(value.replace("\r\n", "\n")):
        raise ValidationError(_("Control characters are not allowed."))


def _units(user, perm: str, **filters):
    qs = OrgUnit.objects.filter(units_q(user, perm), valid_to__isnull=True, **filters).order_by("path")
    return [(u.pk, u.name) for u in qs.only("pk", "name")[:MAX_UNITS]]


class FieldsJSON(forms.CharField):
    def __init__(self, **kw):
        super().__init__(widget=forms.Textarea(attrs={"rows": 14, "class": "font-monospace"}), max_length=100_000,
                         validators=[no_control_chars], **kw)

    def clean(self, value):
        value = super().clean(value)
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise ValidationError(_("Not valid JSON: %(e)s") % {"e": str(exc)[:120]}) from None
        if not isinstance(data, list):
            raise ValidationError(_("The fields are a JSON list of field objects."))
        return data


class RegisterForm(StyledMixin, forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40, help_text=_("Lower-case letters, digits and _."))
    name = forms.CharField(label=_("Name"), max_length=80, validators=[no_control_chars])
    level = forms.TypedChoiceField(label=_("Filled by units of level"), coerce=int,
                                   choices=[(lv.value, lv.label) for lv in Level if lv != Level.CITY])
    unit = forms.TypedChoiceField(label=_("Defined by"), coerce=int)
    description = forms.CharField(label=_("Description"), required=False, max_length=2000,
                                  validators=[no_control_chars], widget=forms.Textarea(attrs={"rows": 2}))
    definition = FieldsJSON(label=_("Fields (JSON)"), help_text=_(
        "A JSON list, one object per field: key, label, type, required, listed, unique, personal; see the types."))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = _units(user, "ledgers.register.manage", level__lte=Level.TOWNSHIP)


class RegisterEditForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80, validators=[no_control_chars])
    description = forms.CharField(label=_("Description"), required=False, max_length=2000,
                                  validators=[no_control_chars], widget=forms.Textarea(attrs={"rows": 2}))
    definition = FieldsJSON(label=_("Fields (JSON)"), help_text=_(
        "Leave a field out to remove it (its values stay in the history); a field's type cannot change."))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)


def entry_form(register, user, *, creating: bool, data=None, initial=None, files_data=None):
    """The form of an entry, built from the definition (one form field per live field)."""

    class EntryForm(StyledMixin, forms.Form):
        pass

    form_fields = {}
    if creating:
        form_fields["unit"] = forms.TypedChoiceField(
            label=_("Unit"), coerce=int,
            choices=_units(user, "ledgers.entry.change", level=register.level, path__startswith=register.unit.path))
    else:
        form_fields["version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)
    for f in register.live_fields():
        label, req, t = f["label"], False, f["type"]
        help_text = ""
        if t in fl.NUMERIC and f.get("unit"):
            label = f"{label}（{f['unit']}）"
        if f["required"]:
            label = f"{label} *"
        if t == "choice":
            field = forms.ChoiceField(label=label, required=req, choices=[("", "—")] + [(c, c) for c in f["choices"]])
        elif t == "multi":
            field = forms.MultipleChoiceField(label=label, required=req, choices=[(c, c) for c in f["choices"]],
                                              widget=forms.CheckboxSelectMultiple)
        elif t == "bool":
            field = forms.ChoiceField(label=label, required=req, choices=[("", "—"), ("是", "是"), ("否", "否")])
        elif t == "date":
            field = forms.CharField(label=label, required=req, max_length=10,
                                    widget=forms.DateInput(attrs={"type": "date"}))
        elif t == "file":
            field = forms.FileField(label=label, required=False, max_length=200, help_text=_(
                "PDF, JPEG, PNG, XLSX or DOCX, at most %(mb)d MB. Leave empty to keep the current file.")
                % {"mb": files.MAX_FILE_BYTES // (1024 * 1024)},
                widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.xlsx,.docx"}))
            form_fields[f["key"]] = field
            continue
        elif t == "text" and f.get("max_length", fl.DEFAULT_TEXT) > 200:
            field = forms.CharField(label=label, required=req, max_length=f["max_length"],
                                    widget=forms.Textarea(attrs={"rows": 2}))
        else:
            attrs = {"inputmode": "decimal"} if t in fl.NUMERIC else {}
            if t == "unit":
                help_text = _("Division code.")
            if t == "person":
                help_text = _("Person id in the people registry.")
            if f["personal"]:
                help_text = _("Personal data: stored encrypted, shown masked. Leave as is to keep it.")
            field = forms.CharField(label=label, required=req, max_length=fl.MAX_TEXT, help_text=help_text,
                                    widget=forms.TextInput(attrs=attrs))
        field.validators.append(no_control_chars)
        form_fields[f["key"]] = field
    EntryForm.base_fields = form_fields
    return EntryForm(data=data, files=files_data, initial=initial)


def initial_of(register, entry) -> dict:
    out = {"version": entry.version}
    for f in register.live_fields():
        v = entry.data.get(f["key"])
        if v is None:
            continue
        if f["type"] == "file":
            continue
        if f["type"] == "bool":
            v = "是" if v else "否"
        elif f["type"] == "unit":
            v = OrgUnit.objects.filter(pk=v).values_list("code", flat=True).first() or ""
        out[f["key"]] = v
    return out


def values_of(register, cleaned: dict) -> dict:
    """The values for the services; an uploaded file as ``files.Upload`` (its size is checked
    before it is read into memory)."""
    out = {}
    for f in register.live_fields():
        v = cleaned.get(f["key"])
        if f["type"] == "file":
            if v and hasattr(v, "read"):
                if v.size > files.MAX_FILE_BYTES:
                    raise files.too_large(f["key"], v.size)
                v = files.Upload(v.name, v.read())
            else:
                v = None
        out[f["key"]] = v
    return out


class FilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, validators=[no_control_chars])
    group = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    field = forms.CharField(required=False, max_length=40)


class RoundForm(StyledMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120, validators=[no_control_chars])
    within = forms.TypedChoiceField(label=_("Units under"), coerce=int)
    due_on = forms.DateField(label=_("Due on"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user=None, register=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["within"].choices = _units(user, "ledgers.round.manage", level__lt=register.level,
                                               path__startswith=register.unit.path)


class SubmitForm(StyledMixin, forms.Form):
    unit = forms.TypedChoiceField(label=_("Unit"), coerce=int)
    note = forms.CharField(label=_("Note"), required=False, max_length=500, validators=[no_control_chars])

    def __init__(self, *args, user=None, rd=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = _units(user, "ledgers.round.submit", level=rd.register.level,
                                             path__startswith=rd.within.path)


class ReturnForm(StyledMixin, forms.Form):
    submission = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    reason = forms.CharField(label=_("Reason"), max_length=500, validators=[no_control_chars])


class ImportForm(StyledMixin, forms.Form):
    file = forms.FileField(label=_("XLSX file (the register's template)"))


class RevealForm(StyledMixin, forms.Form):
    field = forms.CharField(max_length=30, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=500, validators=[no_control_chars])


class ProposalForm(StyledMixin, forms.Form):
    representative = forms.CharField(label=_("Representative"), max_length=40, validators=[no_control_chars])
    title = forms.CharField(label=_("Proposal"), max_length=120, validators=[no_control_chars])
    description = forms.CharField(label=_("Details"), max_length=5000, validators=[no_control_chars],
                                  widget=forms.Textarea(attrs={"rows": 3}))


UNIQUE_CHOICES = [("", _("No")), ("unit", _("Within the filling unit")), ("city", _("In the whole city"))]


class FieldForm(StyledMixin, forms.Form):
    """One field of a definition (the builder). Whether the field makes sense, and whether old
    entries stay valid under it, is decided by the services (``fields.clean_field``,
    ``services.change_register``); this form only bounds what is typed."""

    key = forms.RegexField(label=_("Key"), regex=fl.KEY, max_length=30, help_text=_(
        "Lower-case letters, digits and _; it never changes."))
    label = forms.CharField(label=_("Label"), max_length=40, validators=[no_control_chars])
    type = forms.ChoiceField(label=_("Type"), choices=[(k, v) for k, v in fl.TYPE_LABELS.items()])
    required = forms.BooleanField(label=_("Required"), required=False)
    listed = forms.BooleanField(label=_("Shown in the list (and filterable)"), required=False)
    personal = forms.BooleanField(label=_("Personal data (text only: encrypted, masked)"), required=False)
    unique = forms.ChoiceField(label=_("Unique"), choices=UNIQUE_CHOICES, required=False)
    min = forms.DecimalField(label=_("Minimum (numbers)"), required=False, max_digits=17, decimal_places=4)
    max = forms.DecimalField(label=_("Maximum (numbers)"), required=False, max_digits=17, decimal_places=4)
    places = forms.IntegerField(label=_("Decimal places (numbers)"), required=False, min_value=0, max_value=4)
    unit = forms.CharField(label=_("Unit of measure (numbers)"), required=False, max_length=10,
                           validators=[no_control_chars])
    max_length = forms.IntegerField(label=_("Maximum length (text)"), required=False, min_value=1,
                                    max_value=fl.MAX_TEXT)
    pattern = forms.CharField(label=_("Pattern (text, a regular expression)"), required=False,
                              max_length=fl.MAX_PATTERN, validators=[no_control_chars])
    choices = forms.CharField(label=_("Choices, one per line (the dictionary)"), required=False, max_length=10_000,
                              validators=[no_control_chars], widget=forms.Textarea(attrs={"rows": 4}))
    dictionary = forms.ChoiceField(label=_("Or a shared dictionary (its choices)"), required=False,
                                   choices=[("", "—")])  # h-ledgers2: filled in __init__
    default = forms.CharField(label=_("Default value"), required=False, max_length=200,
                              validators=[no_control_chars])
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)

    def __init__(self, *args, editing: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        from .models import Dictionary

        self.fields["dictionary"].choices = [("", "—"), *((c, f"{n}（{c}）") for c, n in
                                                          Dictionary.objects.order_by("code").values_list("code", "name")[:500])]
        if editing is not None and editing.get("type") not in ("choice", "multi"):
            del self.fields["dictionary"]
        if editing is not None:  # key, type and personal never change
            for name in ("key", "type", "personal"):
                del self.fields[name]

    def definition(self) -> dict:
        """The field as the services take it (the same keys as a definition file)."""
        d = self.cleaned_data
        out = {k: d[k] for k in ("label", "required", "listed") if k in d}
        out["unique"] = d.get("unique") or ""
        if self.editing is None:
            out.update(key=d["key"], type=d["type"], personal=d["personal"])
        t = out.get("type") or self.editing["type"]
        if t in fl.NUMERIC:
            out.update(min=d.get("min"), max=d.get("max"), unit=d.get("unit") or "")
            if t == "number":
                out["places"] = d.get("places") or 0
        if t == "text":
            out["max_length"] = d.get("max_length") or fl.DEFAULT_TEXT
            out["pattern"] = d.get("pattern") or ""
        if t in ("choice", "multi"):
            out["choices"] = [c.strip() for c in (d.get("choices") or "").splitlines() if c.strip()]
            out["dictionary"] = d.get("dictionary") or ""
        out["default"] = d.get("default") or ""
        return out


def field_initial(f: dict, version: int) -> dict:
    out = {k: f.get(k) for k in ("label", "required", "listed", "unique", "min", "max", "places", "unit",
                                 "max_length", "pattern", "default", "dictionary")}
    out["choices"] = "\n".join(f.get("choices") or [])
    out["version"] = version
    return out


# --- shared dictionaries (字典, block of h-ledgers2) ----------------------------------------------

class DictionaryForm(StyledMixin, forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=80, validators=[no_control_chars])
    choices = forms.CharField(label=_("Choices, one per line (the dictionary)"), max_length=10_000,
                              widget=forms.Textarea(attrs={"rows": 6}))


class DictionaryEditForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80, validators=[no_control_chars])
    choices = forms.CharField(label=_("Choices, one per line (the dictionary)"), max_length=10_000,
                              widget=forms.Textarea(attrs={"rows": 8}))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)
