"""Form helpers shared by every app's pages (one copy, used by web, people and loop)."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from .errors import ServiceError


def _name_the_limit(field: forms.Field) -> None:
    """Django's stock text-length message speaks of "this value" (zh: 确保该变量包含不超过 … 字符);
    say which field and how long it may be instead."""
    if not getattr(field, "max_length", None):
        return
    label = str(field.label or _("This field")).replace("%", "%%")
    message = _("%(label)s: at most %%(limit_value)d characters (you entered %%(show_value)d).") % {"label": label}
    field.validators = [MaxLengthValidator(v.limit_value, message) if isinstance(v, MaxLengthValidator) else v
                        for v in field.validators]


class StyledMixin:
    """Gives every widget Tabler's classes, so templates render fields plainly, and every length
    limit a message that names its field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            _name_the_limit(field)
            w = field.widget
            if isinstance(w, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect):
                css = "form-check-input"
            elif isinstance(w, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            w.attrs.setdefault("class", css)


def apply_service_error(form: forms.Form, exc: ServiceError, rename: dict | None = None) -> None:
    """Show a refused service call on the form: per-field messages, and the overall message."""
    rename = rename or {}
    for key, msg in exc.field_errors.items():
        name = rename.get(key, key)
        form.add_error(name if name in form.fields else None, str(msg))
    if not exc.field_errors or str(exc.message) not in {str(m) for m in exc.field_errors.values()}:
        form.add_error(None, str(exc.message))
