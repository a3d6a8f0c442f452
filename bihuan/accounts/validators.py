"""Password rules as Django validators; their thresholds come from settings (MLPS level).

``PasswordHistoryValidator`` also keeps the history: Django calls ``password_changed`` after
every save of a new password (``AbstractBaseUser.save``), i.e. inside the service's transaction.
"""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Session flag set at login when the password is older than BIHUAN_PASSWORD_MAX_AGE_DAYS.
PASSWORD_EXPIRED_KEY = "bihuan_password_expired"


def password_expired(user, now: datetime) -> bool:
    """True when expiry is on and the user's password (its newest history row) is too old."""
    days = getattr(settings, "BIHUAN_PASSWORD_MAX_AGE_DAYS", 0)
    if days <= 0 or user is None or user.pk is None:
        return False
    from .models import PasswordHistory

    changed = (PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at")
               .values_list("created_at", flat=True).first()) or user.date_joined
    return changed <= now - timedelta(days=days)


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


class PasswordHistoryValidator:
    """No reuse of the last ``keep`` passwords (their hashes are kept in ``PasswordHistory``)."""

    def __init__(self, keep: int = 5):
        self.keep = keep

    def _recent(self, user):
        from .models import PasswordHistory

        if user is None or user.pk is None or self.keep <= 0:
            return PasswordHistory.objects.none()
        return PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-id")[: self.keep]

    def validate(self, password, user=None):
        # The current password counts even without a history row (users from before the history).
        hashes = list(self._recent(user).values_list("password", flat=True))
        current = getattr(user, "password", "") if user is not None and user.pk else ""
        if current and current not in hashes and self.keep > 0:
            hashes.append(current)
        if any(check_password(password, h) for h in hashes):
            raise ValidationError(
                ngettext("The password must differ from your last password.",
                         "The password must differ from your last %(n)d passwords.", self.keep) % {"n": self.keep},
                code="password_reused")

    def password_changed(self, password, user=None):
        from .models import PasswordHistory

        if user is None or user.pk is None:
            return
        # Django's hook takes no time argument; the age check (otp/password_expired) takes ``now``.
        PasswordHistory.objects.create(user_id=user.pk, password=user.password, created_at=timezone.now())
        # Keep only what the rule reads (and the newest, for the password's age).
        stale = list(PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-id")
                     .values_list("id", flat=True)[max(self.keep, 1):])
        if stale:
            PasswordHistory.objects.filter(id__in=stale).delete()

    def get_help_text(self):
        if self.keep <= 0:
            return ""
        return ngettext("Do not reuse your last password.", "Do not reuse your last %(n)d passwords.",
                        self.keep) % {"n": self.keep}
