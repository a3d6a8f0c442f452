"""Revealing a reporter's full phone number, as for persons (``people.services.reveal``): the
matter must be visible (else ``NotFound``), the user needs ``loop.matter.reveal`` in scope of it
(``core.scope.require``), states a reason, and the reveal is one audit entry. The number is
returned once; nothing stores or caches it in the clear.

Numbers typed into a matter's free text (title, description, address, comments) are stored as
typed and shown through ``text_for``: masked (``core.protect.mask_text``) to anyone without
``loop.matter.reveal`` at the matter, in full to those who hold it there."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from bihuan.core import audit, protect, scope
from bihuan.core.errors import ServiceError

from .base import _now, get_matter

REVEAL = "loop.matter.reveal"
MIN_REASON = 4  # as for persons
MAX_REASON = 500


def text_for(user, matter, text: str) -> str:
    """``text`` (free text of ``matter``) as ``user`` may see it: phone and ID numbers masked
    unless they hold the reveal permission at the matter."""
    # Most text has no digits at all: nothing to mask, and no permission query per row of a list.
    if not text or not any(c.isdigit() for c in text) or (user is not None and scope.allows(user, REVEAL, matter)):
        return text or ""
    return protect.mask_text(text)


def can_reveal(user, matter) -> bool:
    """Whether the matter page offers the reveal (there is a number, and the user may see it)."""
    return bool(matter.reporter_phone_enc) and scope.allows(user, REVEAL, matter)


@transaction.atomic
def reveal_phone(user, matter_id, reason: str, *, now: datetime | None = None) -> str:
    """The reporter's full phone number of a matter: permission, reason, one audit entry."""
    now = _now(now)
    matter = get_matter(user, matter_id)
    scope.require(user, REVEAL, matter, _("Revealing a reporter's phone needs its own permission."))
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON or len(reason) > MAX_REASON:
        raise ServiceError(_("State why you need the full number."),
                           {"reason": _("Give a reason of at least %(n)d characters.") % {"n": MIN_REASON}})
    if not matter.reporter_phone_enc:
        raise ServiceError(_("No phone number was given for this matter."), code="no_phone")
    audit.record("loop.matter.reveal", matter, extra={"field": "reporter_phone", "reason": reason}, now=now)
    return protect.decrypt(matter.reporter_phone_enc)
