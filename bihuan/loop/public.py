"""What the public (no account) may do and see: the demand form, the status page, Open311.

* **Visibility.** Only matters that came in from the public (the web form or an Open311
  client) are public, and only through what ``public_view`` returns: no reporter name or phone
  (masked), no free-text address (the location unit instead), no staff names, no comments, and
  phone / ID numbers inside the description masked. Staff-registered problems and tasks are never
  public, whatever token or id is tried.
* **What the handling unit tells the resident.** Its progress notes (办理进展) and its "done"
  report are shown on the tracking page with their photos — the note masked like the
  description, the photos only as re-encoded renditions without EXIF (``loop.images``); other
  comments stay internal.
* **Throttling.** A simple counter per client and window in the database (``PublicThrottle``);
  no CAPTCHA, no extra server.
* **Open311 keys.** ``create_key`` returns the key once; only its SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import audit
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.protect import mask_text
from bihuan.orgs.models import Level, OrgUnit

from .models import Category, Matter, Open311Key, PublicThrottle, Source, State

PUBLIC_SOURCES = (Source.PUBLIC, Source.OPEN311)


# --- throttling ---------------------------------------------------------------------------------

def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def public_submit_limit() -> int:
    """Public submissions (demand form, Open311 POST) per client and hour."""
    return _limit("BIHUAN_PUBLIC_SUBMITS_PER_HOUR", 10)


def public_rate_limit() -> int:
    return _limit("BIHUAN_PUBLIC_RATINGS_PER_HOUR", 20)


def throttle_hit(bucket: str, *, limit: int, window: timedelta = timedelta(hours=1),
                 now: datetime | None = None) -> bool:
    """Count one attempt in ``bucket``'s current window; False when over ``limit``."""
    now = now or timezone.now()
    seconds = int(window.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=UTC)
    bucket = bucket[:100]
    with transaction.atomic():
        updated = PublicThrottle.objects.filter(bucket=bucket, window_start=start).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    PublicThrottle.objects.create(bucket=bucket, window_start=start, count=1)
            except IntegrityError:  # a concurrent first hit created it
                PublicThrottle.objects.filter(bucket=bucket, window_start=start).update(count=F("count") + 1)
            # A new window: forget windows older than a day (keeps the table small).
            PublicThrottle.objects.filter(window_start__lt=now - timedelta(days=1)).delete()
        n = PublicThrottle.objects.filter(bucket=bucket, window_start=start).values_list("count", flat=True).first()
    return (n or 0) <= limit


# --- what is public -----------------------------------------------------------------------------

def public_matters():
    return Matter.objects.filter(source__in=PUBLIC_SOURCES)


def public_categories():
    """Categories a resident may choose: active ones the city published with an Open311 code."""
    return Category.objects.filter(active=True).exclude(open311_code="").order_by("kind", "code")


def by_token(token: str) -> Matter:
    m = (public_matters().select_related("category", "location_unit", "handling_unit", "dispatch_unit")
         .filter(public_token=(token or "-")[:32]).first())
    if m is None:
        raise NotFound()
    return m


def mask_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def public_state(m: Matter) -> str:
    return "closed" if m.state in (State.CLOSED, State.MERGED) else "open"


def agency(m: Matter) -> OrgUnit:
    return m.handling_unit or m.dispatch_unit


# Steps shown to the public: action → label. Comments and actor names are never shown.
PUBLIC_STEPS = {
    "create": gettext_lazy("Received"),
    "dispatch": gettext_lazy("Sent to the handling unit"),
    "accept": gettext_lazy("Accepted by the handling unit"),
    "send_back": gettext_lazy("Returned for re-dispatch"),
    "progress": gettext_lazy("Progress (办理进展)"),
    "report_done": gettext_lazy("Reported done"),
    "evaluate": gettext_lazy("Checked"),
    "reopen": gettext_lazy("Reopened"),
    "rate": gettext_lazy("Rated"),
    "merge": gettext_lazy("Merged with a matter about the same problem"),
    "close_with": gettext_lazy("Closed together with the same problem"),
    "request_extension": gettext_lazy("More time requested"),
    "decide_extension": gettext_lazy("Deadline reviewed"),
}


# Steps whose comment is addressed to the resident (shown masked, with the step's photos).
TOLD_TO_RESIDENT = ("progress", "report_done")


@dataclass
class PublicStep:
    at: datetime
    label: str
    unit: str
    note: str = ""
    photos: tuple[int, ...] = ()


def public_steps(m: Matter) -> list[PublicStep]:
    from .selectors import timeline

    units = {}
    out = []
    for e in timeline(m):
        label = PUBLIC_STEPS.get(e.action)
        if label is None:
            continue
        unit_name = ""
        if e.action == "dispatch":
            uid = (e.data or {}).get("handling_unit_id")
            if uid and uid not in units:
                units[uid] = OrgUnit.objects.filter(pk=uid).values_list("name", flat=True).first() or ""
            unit_name = units.get(uid, "")
        if e.action == "evaluate":
            label = _("Checked and closed") if (e.data or {}).get("passed") else _("Checked; more work needed")
        note, photos = "", ()
        if e.action in TOLD_TO_RESIDENT:
            note = mask_text(e.comment)
            photos = tuple(a.pk for a in e.attachments.all() if a.content_type in ("image/jpeg", "image/png"))
        out.append(PublicStep(e.at, str(label), unit_name, note, photos))
    return out


def public_description(m: Matter) -> str:
    return mask_text(m.description)


# --- where is it? -------------------------------------------------------------------------------

PLACE_LEVELS = (Level.TOWNSHIP, Level.VILLAGE)


def find_places(text: str, limit: int = 20) -> list[OrgUnit]:
    """Current townships and villages/communities whose name is in ``text`` or contains it.

    Deepest first; the caller uses the only one, or lets the resident pick."""
    text = (text or "").strip()[:100]
    if len(text) < 2:
        return []
    qs = OrgUnit.objects.filter(valid_to__isnull=True, level__in=PLACE_LEVELS).select_related("parent")
    hits = list(qs.filter(name__icontains=text).order_by("-level", "path")[:limit + 1])
    if not hits:
        hits = list(qs.annotate(_t=Value(text)).filter(_t__contains=F("name"))
                    .order_by("-level", "path")[:limit + 1])
    # Prefer exact names, then the deepest level.
    exact = [u for u in hits if u.name == text]
    if exact:
        return exact
    if hits:
        deepest = max(u.level for u in hits)
        hits = [u for u in hits if u.level == deepest]
    return hits[:limit]


def place_by_code(code: str) -> OrgUnit | None:
    code = (code or "").strip()[:20]
    if not code:
        return None
    return OrgUnit.objects.filter(code=code, valid_to__isnull=True, level__gte=Level.TOWNSHIP).first()


# --- Open311 API keys ---------------------------------------------------------------------------

KEY_PREFIX = "o311_"


def digest_of(key: str) -> str:
    return hashlib.sha256((key or "").encode()).hexdigest()


@transaction.atomic
def create_key(name: str) -> tuple[Open311Key, str]:
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise ServiceError(_("A key needs a name of 1 to 60 characters."), {"name": _("Required.")})
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    rec = Open311Key.objects.create(name=name, prefix=key[:12], digest=digest_of(key))
    audit.record("loop.open311_key.create", rec, after={"name": name, "prefix": rec.prefix})
    return rec, key


@transaction.atomic
def revoke_key(rec: Open311Key, *, now: datetime | None = None) -> Open311Key:
    if rec.revoked_at is None:
        rec.revoked_at = now or timezone.now()
        rec.save(update_fields=["revoked_at"])
        audit.record("loop.open311_key.revoke", rec, after={"name": rec.name, "prefix": rec.prefix})
    return rec


def key_for(api_key: str, *, now: datetime | None = None) -> Open311Key | None:
    """The active key record for ``api_key``, or None."""
    if not api_key or len(api_key) > 200:
        return None
    rec = Open311Key.objects.filter(digest=digest_of(api_key), revoked_at__isnull=True).first()
    if rec is not None:
        Open311Key.objects.filter(pk=rec.pk).update(last_used_at=now or timezone.now(), uses=F("uses") + 1)
    return rec


def keys_matching(text: str):
    text = (text or "").strip()
    if text.isdigit():
        return Open311Key.objects.filter(pk=int(text))
    return Open311Key.objects.filter(Q(prefix=text[:12]) | Q(name=text))
