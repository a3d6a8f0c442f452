"""What every change to a matter shares: loading it through the scope, the version and
transition checks, and ``_commit`` — the one versioned write + event + audit path."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import Conflict, NotFound, ServiceError
from bihuan.core.scope import scope_for
from bihuan.core.text import clean
from bihuan.orgs.models import OrgUnit

from .. import transitions
from ..models import Matter, MatterEvent
from .attachments import Upload, store_uploads

MAX_TITLE = 120
MAX_DESCRIPTION = 5000
MAX_COMMENT = 2000


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value, field: str, *, required: bool, limit: int, label: str) -> str:
    # Every path in (staff pages, the public form, the API, Open311) gets the one cleaning rule:
    # no control characters are stored (core.text; they once broke requests.xml for everyone).
    value = clean(value).strip()
    if required and not value:
        raise ServiceError(_("%(label)s is required.") % {"label": label}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(label)s is too long: %(n)d characters, at most %(max)d.")
                           % {"label": label, "n": len(value), "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    return value


def _actor_unit(user, unit: OrgUnit | None) -> OrgUnit | None:
    """The unit the actor acts for: their deepest binding at or above ``unit``, else their first.
    (Which of one's own units signs an event — a fact of the tree, not a scope question.)"""
    if user is None:
        return None
    bindings = user._active_bindings()
    above = set(unit.ancestor_ids()) if unit is not None else set()
    best = max((b.unit for b in bindings if b.unit_id in above), key=lambda u: u.depth, default=None)
    return best or (bindings[0].unit if bindings else None)


def get_matter(user, matter_id) -> Matter:
    """One matter the user may view (``NotFound`` otherwise, a 404 on the web and in the API);
    the system sees all."""
    qs = Matter.objects.select_related("category", "location_unit", "handling_unit", "dispatch_unit")
    try:
        matter = qs.get(pk=getattr(matter_id, "pk", matter_id))
    except (Matter.DoesNotExist, ValueError, TypeError):
        raise NotFound()
    # The scope rule of ``Matter.objects.restrict`` checked on the loaded row (the same answer,
    # without the four-way filter's planning on every transition: docs/performance.md).
    if user is not None and not matter.scope_covered_by(scope_for(user, "loop.matter.view")):
        raise NotFound()
    return matter


def _check_version(matter: Matter, version) -> None:
    if version is None or version == "":
        raise ServiceError(_("The matter's version is required."), {"version": _("This field is required.")})
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ServiceError(_("The matter's version is required."), {"version": _("Enter a whole number.")})
    if version != matter.version:
        raise Conflict(_("The matter was changed by someone else (version %(cur)d, you sent %(sent)d). "
                         "Reload it and try again.") % {"cur": matter.version, "sent": version})


def _check_transition(user, matter: Matter, action: str, version, *, on_behalf: bool = False) -> transitions.Transition:
    """Unknown action, stale version, then ``transitions.check`` (the rule the web and API read)."""
    t = transitions.get(action)
    if t is None:
        raise ServiceError(_("Unknown action %(a)s.") % {"a": action}, code="unknown_action")
    _check_version(matter, version)
    transitions.check(user, matter, action, on_behalf=on_behalf).raise_if_refused()
    return t


MIN_ON_BEHALF_REASON = 4


def _on_behalf(user, matter: Matter, action: str, on_behalf: bool, reason: str) -> dict:
    """The event data of an act taken on the lead unit's behalf ({} when the user acts as the lead
    unit itself, or does not say so). The reason is required and kept in the event and the audit."""
    if not on_behalf or not transitions.acts_on_behalf(user, matter, action):
        return {}
    reason = _text(reason, "on_behalf_reason", required=True, limit=MAX_COMMENT,
                   label=_("The reason for acting on its behalf"))
    if len(reason) < MIN_ON_BEHALF_REASON:
        raise ServiceError(_("Say why you act on behalf of %(unit)s (at least %(n)d characters).")
                           % {"unit": matter.handling_unit.name, "n": MIN_ON_BEHALF_REASON},
                           {"on_behalf_reason": _("At least %(n)d characters.") % {"n": MIN_ON_BEHALF_REASON}})
    return {"on_behalf_of": matter.handling_unit.pk, "on_behalf_of_name": matter.handling_unit.name,
            "on_behalf_reason": reason}


def _snapshot(m: Matter) -> dict:
    return {"state": m.state, "version": m.version, "handling_unit_id": m.handling_unit_id,
            "due_at": m.due_at, "flagged": m.flagged}


def _commit(user, matter: Matter, action: str, *, to_state: str | None, now: datetime, comment: str = "",
            data: dict | None = None, fields: dict | None = None, uploads: list[Upload] | None = None,
            audit_extra: dict | None = None) -> MatterEvent:
    """The conditional write, the event and the audit entry of one transition."""
    fields = dict(fields or {})
    before = _snapshot(matter)
    old_version, from_state = matter.version, matter.state
    if to_state is not None:
        fields["state"] = to_state
    n = Matter.objects.filter(pk=matter.pk, version=old_version).update(version=old_version + 1, **fields)
    if n != 1:
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    for k, v in fields.items():
        setattr(matter, k, v)
    matter.version = old_version + 1
    actor_unit = _actor_unit(user, matter.handling_unit or matter.dispatch_unit)
    try:
        # No savepoint (two round trips a transition): a clash on (matter, seq) cannot be kept
        # apart from the transition anyway, so it fails the whole transaction as a conflict.
        with transaction.atomic(savepoint=False):
            event = MatterEvent.objects.create(
                matter=matter, seq=matter.version, at=now, actor=user,
                actor_name=(getattr(user, "display_name", "") or getattr(user, "username", "")) if user else "system",
                actor_unit=actor_unit, action=action, from_state=from_state, to_state=matter.state,
                comment=comment, data=data or {})
    except IntegrityError:
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    if uploads:
        store_uploads(matter, event, uploads)
    audit.record(f"loop.matter.{action}", matter, before=before, after=_snapshot(matter),
                 extra={"comment": comment[:200], **(audit_extra or data or {})}, now=now)
    return event
