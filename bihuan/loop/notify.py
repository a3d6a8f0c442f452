"""Notifications: the in-app notification centre, plus delivery channels.

``notify()`` writes one ``Notification`` row (what the in-app centre lists) and, after the
transaction commits, hands it to every configured channel. A channel is any object with::

    name: str
    def send(self, notification: Notification) -> None

configured by dotted path in ``settings.BIHUAN_NOTIFY_CHANNELS`` (default: the logging channel).

**SMS.** There is no SMS gateway in Bihuan. An SMS channel implements the same interface:
resolve the recipients of ``notification.unit`` (the users bound to that unit, or
``notification.user``) to phone numbers, send ``notification.title`` (at most 70 characters
per segment; never the reporter's personal data, which is masked in titles anyway) through
the provider's API, and raise on failure — a failing channel is logged and does not undo the
notification, which stays in the in-app centre. See docs/loop.md "Notifications".
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Case, Exists, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils.module_loading import import_string

from bihuan.core import audit
from bihuan.core.errors import NotFound
from bihuan.core.protect import mask_text

from .models import Notification, NotificationMark, NotificationRead

log = logging.getLogger("bihuan.notify")


class Channel(Protocol):
    name: str

    def send(self, notification: Notification) -> None: ...


class LoggingChannel:
    """Writes each notification to the ``bihuan.notify`` log (PII-masked by the log filter)."""

    name = "log"

    def send(self, notification: Notification) -> None:
        log.info("notify unit=%s user=%s matter=%s kind=%s: %s", notification.unit_id, notification.user_id,
                 notification.matter_id, notification.kind, notification.title)


DEFAULT_CHANNELS = ["bihuan.loop.notify.LoggingChannel"]


def channels() -> list[Channel]:
    return [import_string(path)() for path in getattr(settings, "BIHUAN_NOTIFY_CHANNELS", DEFAULT_CHANNELS)]


def _deliver(n: Notification) -> None:
    # The row that was just committed, as written (no second read: issue 18).
    for ch in channels():
        try:
            ch.send(n)
        except Exception:  # noqa: BLE001 - one channel failing must not stop the others
            log.exception("channel %s failed for notification %s", getattr(ch, "name", ch), n.pk)


def notify(*, unit=None, user=None, matter=None, kind: str, title: str, body: str = "",
           now: datetime) -> Notification:
    # Recipients are whole units, not all of whom may see numbers: a phone or ID number that came
    # in with a matter's title is masked in the notification (the matter keeps the full text).
    n = Notification.objects.create(unit=unit, user=user, matter=matter, kind=kind, title=mask_text(title)[:200],
                                    body=mask_text(body), created_at=now)
    transaction.on_commit(lambda: _deliver(n))
    return n


# --- the in-app centre: who sees what, and per-person read state ----------------------------------

def recipient_unit_ids(user) -> list[int]:
    """Units whose notifications ``user`` receives: those they are bound to with a loop role."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    return sorted({b.unit_id for b in user._active_bindings() if "loop.matter.view" in b.role.permissions})


def for_user(user):
    """The notifications a user sees: addressed to them, or to a unit they are bound to."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Notification.objects.none()
    return Notification.objects.filter(Q(user=user) | Q(unit_id__in=recipient_unit_ids(user)))


def _read_q(user) -> Q:
    """Read by ``user``: below their mark-all point, or read one by one (a subquery each, so the
    badge on every page is one query)."""
    read_one = NotificationRead.objects.filter(user=user, notification=OuterRef("pk"))
    mark = NotificationMark.objects.filter(user=user).values("read_through")[:1]
    return Q(pk__lte=Coalesce(Subquery(mark), 0)) | Q(Exists(read_one))


def with_read_state(user, qs):
    """``qs`` annotated with ``is_read`` for ``user``."""
    return qs.annotate(is_read=Case(When(_read_q(user), then=Value(True)), default=Value(False),
                                    output_field=BooleanField()))


def unread_for(user):
    """The user's unread notifications (a queryset; ``.count()`` is the badge)."""
    return for_user(user).exclude(_read_q(user))


def unread_count(user) -> int:
    return unread_for(user).count()


def get_for_user(user, notification_id) -> Notification:
    """One of the user's notifications; anyone else's is ``NotFound`` (404), like one that does not exist."""
    try:
        return for_user(user).select_related("unit", "matter").get(pk=int(notification_id))
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotFound()


@transaction.atomic
def mark_read(user, notification_id, *, now: datetime) -> bool:
    """Mark one notification read for ``user``. False when it already was (nothing written)."""
    n = get_for_user(user, notification_id)
    if NotificationMark.objects.filter(user=user, read_through__gte=n.pk).exists():
        return False
    _obj, created = NotificationRead.objects.get_or_create(user=user, notification=n, defaults={"read_at": now})
    if created:
        audit.record("loop.notification.read", n, unit=n.unit or _user_unit(user), now=now,
                     extra={"kind": n.kind, "matter_id": n.matter_id})
    return created


@transaction.atomic
def mark_all_read(user, *, now: datetime) -> int:
    """Mark everything the user has received so far read; returns how many were unread."""
    unread = unread_for(user)
    count = unread.count()
    if count == 0:
        return 0
    top = for_user(user).aggregate(top=Max("pk"))["top"] or 0
    NotificationMark.objects.update_or_create(user=user, defaults={"read_through": top, "updated_at": now})
    NotificationRead.objects.filter(user=user, notification_id__lte=top).delete()
    audit.record("loop.notification.read_all", object_type="loop.notification", object_id=top,
                 unit=_user_unit(user), now=now, extra={"count": count, "read_through": top})
    return count


def _user_unit(user):
    bindings = user._active_bindings()
    return bindings[0].unit if bindings else None
