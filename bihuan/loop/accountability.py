"""Public accountability (like FixMyStreet's and Decidim's public pages): residents' demands per
township, browsable without an account.

What is public here is less than on the resident's own tracking page, because no key is needed:

* only **demands that came from the public** (``public.public_matters``, kind ``demand``), never
  staff-registered problems or tasks, and not merged duplicates (their original is listed);
* per demand: its number, category, the place **at village level** (a grid is shown as its
  village), Bihuan's state, the dates (received, expected, closed), the handling unit's name, its
  reply (the comment of the last "report done", phone and ID numbers masked by
  ``core.protect.mask_text``) and its closing photos (``closing_photos``, served only as re-encoded
  renditions without EXIF, ``views.photos.public_rendition``);
* never: the description, the title (made from the description), the address, the coordinates,
  the reporter's name or phone, staff names, the tracking token.

The lists are paginated; a township's list is one query for the page plus one for its replies
and one for its photos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from bihuan.core.protect import mask_text
from bihuan.orgs.models import Level, OrgUnit

from .models import Attachment, Kind, MatterEvent, State
from .public import public_matters, public_state

PAGE_SIZE = 20


def public_demands():
    """The demands the public list may show (any township)."""
    return public_matters().filter(kind=Kind.DEMAND).exclude(state=State.MERGED)


def closing_photos():
    """Photos anyone may see: the evidence attached to "report done" on a public demand."""
    return Attachment.objects.filter(matter__in=public_demands(), event__action="report_done",
                                     content_type__in=("image/jpeg", "image/png"))


def townships(q: str = ""):
    """Current townships with their number of public demands, most first: those with demands, or
    with ``q`` every township whose name (or county's name) contains it."""
    qs = OrgUnit.objects.filter(level=Level.TOWNSHIP, valid_to__isnull=True).select_related("parent")
    q = (q or "").strip()[:40]
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(parent__name__contains=q))
    per_unit = (public_demands().filter(dispatch_unit=OuterRef("pk")).order_by().values("dispatch_unit")
                .annotate(c=Count("pk")).values("c"))
    qs = qs.annotate(total=Coalesce(Subquery(per_unit), 0))
    if not q:
        qs = qs.filter(total__gt=0)
    return qs.order_by("-total", "path")


def township(unit_id) -> OrgUnit | None:
    return OrgUnit.objects.filter(pk=unit_id, level=Level.TOWNSHIP).select_related("parent").first()


def demands_of(unit: OrgUnit, state: str = ""):
    """A township's public demands, newest first: those it dispatches (every demand at a place
    under it is dispatched by it unless the city routed it elsewhere)."""
    qs = (public_demands().filter(dispatch_unit=unit)
          .select_related("category", "location_unit__parent", "handling_unit")
          .order_by("-created_at", "-id"))
    if state == "open":
        qs = qs.exclude(state=State.CLOSED)
    elif state == "closed":
        qs = qs.filter(state=State.CLOSED)
    return qs


def village_of(unit: OrgUnit) -> OrgUnit:
    """The place as the public sees it: a grid is shown as its village."""
    if unit.level == Level.GRID and unit.parent is not None:
        return unit.parent
    return unit


@dataclass
class PublicDemand:
    pk: int
    category: str
    place: str
    state: str  # "open" | "closed"
    state_label: str
    received: datetime
    expected: datetime | None
    closed: datetime | None
    handled_by: str
    reply: str = ""
    photos: list[int] = field(default_factory=list)


def rows(matters) -> list[PublicDemand]:
    """The public form of a page of demands (one query for the replies, one for the photos)."""
    matters = list(matters)
    ids = [m.pk for m in matters]
    replies: dict[int, str] = {}
    for mid, comment in (MatterEvent.objects.filter(matter_id__in=ids, action="report_done")
                         .order_by("matter_id", "seq").values_list("matter_id", "comment")):
        replies[mid] = comment  # the last report wins
    photos: dict[int, list[int]] = {}
    for mid, aid in closing_photos().filter(matter_id__in=ids).order_by("id").values_list("matter_id", "id"):
        photos.setdefault(mid, []).append(aid)
    out = []
    for m in matters:
        unit = m.handling_unit or m.dispatch_unit
        out.append(PublicDemand(
            pk=m.pk, category=m.category.name, place=village_of(m.location_unit).name, state=public_state(m),
            state_label=str(State(m.state).label), received=m.created_at,
            expected=m.due_at if m.state != State.CLOSED else None, closed=m.closed_at,
            handled_by=unit.name if unit else "", reply=mask_text(replies.get(m.pk, "")),
            photos=photos.get(m.pk, [])[:3]))
    return out
