import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class CharacterClassValidator:
    """At least ``min_classes`` of: lower case, upper case, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password, user=None):
        classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
        if classes < self.min_classes:
            raise ValidationError(
                ngettext(
                    "The password must mix at least %(n)d kind of character (lower case, upper case, digits, symbols).",
                    "The password must mix at least %(n)d kinds of character (lower case, upper case, digits, symbols).",
                    self.min_classes,
                ) % {"n": self.min_classes},
                code="password_classes",
            )

    def get_help_text(self):
        return _("Use at least %(n)d of: lower case, upper case, digits, symbols.") % {"n": self.min_classes}
