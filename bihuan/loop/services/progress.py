"""办理进展: the lead unit's interim progress notes, with photos, while it handles a matter.

A note changes no state and no deadline. It is an event like every other (``progress``, through
``base._commit``: the versioned write, the timeline entry with its photos and one audit entry), so
a note written on a stale page is refused like any other action, and it is offered exactly when
``transitions.check`` allows it (in progress, ``loop.matter.handle`` at the lead unit). The
dispatching unit is notified; for a demand from the public the note and its photos also appear on
the resident's tracking page (``loop.public.PUBLIC_STEPS``).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from .. import notify as notify_mod
from ..models import Matter
from .attachments import validate_uploads
from .base import MAX_COMMENT, _check_transition, _commit, _now, _text, get_matter


@transaction.atomic
def add_progress(user, matter, *, version: int, comment: str, uploads=None,
                 now: datetime | None = None) -> Matter:
    """Add a progress note (required text, up to 9 photos) to a matter being handled."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "progress", version)
    comment = _text(comment, "comment", required=True, limit=MAX_COMMENT, label=_("The progress note"))
    uploads = validate_uploads(uploads)
    _commit(user, matter, "progress", to_state=None, now=now, comment=comment,
            data={"photos": len(uploads)}, uploads=uploads)
    notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="progress",
                      title=_("Progress on #%(id)d: %(t)s") % {"id": matter.pk, "t": matter.title}, now=now)
    return matter
