"""Form helpers shared by every app's pages (one copy, used by web, people and loop)."""

from __future__ import annotations

from django import forms

from .errors import ServiceError


class StyledMixin:
    """Gives every widget Tabler's classes, so templates render fields plainly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
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
