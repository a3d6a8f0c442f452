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
from django.utils.module_loading import import_string

from .models import Notification

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


def _deliver(notification_id: int) -> None:
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None:
        return
    for ch in channels():
        try:
            ch.send(n)
        except Exception:  # noqa: BLE001 - one channel failing must not stop the others
            log.exception("channel %s failed for notification %s", getattr(ch, "name", ch), n.pk)


def notify(*, unit=None, user=None, matter=None, kind: str, title: str, body: str = "",
           now: datetime) -> Notification:
    n = Notification.objects.create(unit=unit, user=user, matter=matter, kind=kind, title=title[:200], body=body,
                                    created_at=now)
    transaction.on_commit(lambda: _deliver(n.pk))
    return n


def for_user(user):
    """The notifications a user sees: addressed to them, or to a unit they are bound to."""
    from django.db.models import Q

    unit_ids = [b.unit_id for b in user._active_bindings()]
    return Notification.objects.filter(Q(user=user) | Q(unit_id__in=unit_ids))


def mark_read(user, ids, *, now: datetime) -> int:
    return for_user(user).filter(pk__in=ids, read_at__isnull=True).update(read_at=now)
