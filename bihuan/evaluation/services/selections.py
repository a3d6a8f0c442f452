"""Selections (评选): 先锋 (vanguard members), 优秀书记 (excellent secretaries), 先进党组织 (advanced
organisations). A round of a unit with a quota takes nominations from units in its subtree until a
day; the selecting unit reviews them (accepting within the quota, with a citation), publicises the
accepted (公示, working days), and after the notice names them. Every step is audited; the quota
is checked under a lock of the round, so two reviewers cannot both take the last place.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.calendar import CalendarUnknownYear, add_working_days
from bihuan.core.errors import Conflict, NotFound, ServiceError
from bihuan.core.scope import require
from bihuan.orgs.models import PartyOrg

from ..models import Nomination, NominationState, SelectionKind, SelectionRound, SelectionState
from .common import day_of, integer, now_or, text

MANAGE = "evaluation.selection.manage"
NOMINATE = "evaluation.selection.nominate"
DEFAULT_QUOTA = {SelectionKind.VANGUARD: 150, SelectionKind.SECRETARY: 100, SelectionKind.ORGANISATION: 100}


def _within(unit, top) -> bool:
    return unit.pk == top.pk or top.is_ancestor_of(unit)


@transaction.atomic
def create_round(user, *, unit, kind, name, nominate_until, quota=None, notice_days=5,
                 now: datetime | None = None) -> SelectionRound:
    now = now_or(now)
    if unit is None:
        raise ServiceError(_("Choose the selecting unit."), {"unit": _("This field is required.")})
    require(user, MANAGE, unit)
    if kind not in SelectionKind.values:
        raise ServiceError(_("Choose what is selected: 先锋, 优秀书记 or 先进党组织."), {"kind": _("Unknown kind.")})
    name = text(name, "name", limit=120, required=True)
    quota = integer(DEFAULT_QUOTA[kind] if quota in (None, "") else quota, "quota", low=1, high=10000)
    notice = integer(notice_days, "notice_days", low=1, high=30)
    until = day_of(nominate_until, "nominate_until")
    if until < timezone.localtime(now).date():
        raise ServiceError(_("Nominations cannot close in the past."), {"nominate_until": _("Today or later.")})
    if SelectionRound.objects.filter(unit=unit, name=name).exists():
        raise Conflict(_("%(unit)s already has a round named %(name)s.") % {"unit": unit.name, "name": name})
    r = SelectionRound.objects.create(unit=unit, kind=kind, name=name, quota=quota, nominate_until=until,
                                      notice_days=notice, created_at=now)
    audit.record("evaluation.selection.create", r, after={"kind": kind, "name": name, "quota": quota,
                                                          "nominate_until": until, "notice_days": notice}, now=now)
    return r


def get_round(user, rnd, action: str = "view") -> SelectionRound:
    pk = getattr(rnd, "pk", rnd)
    qs = SelectionRound.objects.restrict(user, action) if user is not None else SelectionRound.objects.all()
    r = qs.filter(pk=pk).select_related("unit").first() if pk is not None else None
    if r is None:
        raise NotFound()
    return r


def nominate(user, rnd, *, unit, nominee: str = "", deeds: str, party_org=None,
             now: datetime | None = None) -> Nomination:
    """A unit in the round's subtree nominates a party member by name (先锋, 优秀书记) or one of its
    party organisations (先进党组织), with the deeds; until the round's closing day."""
    now = now_or(now)
    r = get_round(user, rnd, "nominate")
    if unit is None:
        raise ServiceError(_("Choose the nominating unit."), {"unit": _("This field is required.")})
    require(user, NOMINATE, unit)
    if not _within(unit, r.unit):
        raise ServiceError(_("%(u)s is not under %(top)s.") % {"u": unit.name, "top": r.unit.name},
                           {"unit": _("Not under the selecting unit.")})
    if r.state != SelectionState.NOMINATING or timezone.localtime(now).date() > r.nominate_until:
        raise ServiceError(_("Nominations closed on %(d)s.") % {"d": r.nominate_until.isoformat()}, code="closed")
    deeds = text(deeds, "deeds", limit=1000, required=True)
    org = None
    if r.kind == SelectionKind.ORGANISATION:
        pk = getattr(party_org, "pk", party_org)
        org = PartyOrg.objects.filter(pk=pk).select_related("unit").first() if pk not in (None, "") else None
        if org is None or not _within(org.unit, unit):
            raise ServiceError(_("Choose a party organisation of the nominating unit."),
                               {"party_org": _("Not a party organisation of this unit.")})
        nominee = org.name[:120]
    else:
        nominee = text(nominee, "nominee", limit=120, required=True)
    try:
        with transaction.atomic():
            n = Nomination.objects.create(round=r, unit=unit, nominee=nominee, party_org=org, deeds=deeds,
                                          nominated_at=now, nominated_by=user)
            audit.record("evaluation.selection.nominate", n, after={"round_id": r.pk, "nominee": nominee,
                                                                     "party_org_id": getattr(org, "pk", None),
                                                                     "deeds": deeds}, now=now)
    except IntegrityError:
        raise Conflict(_("%(u)s has nominated %(n)s already.") % {"u": unit.name, "n": nominee})
    return n


def review(user, nomination, *, accept: bool, citation: str = "", note: str = "",
           now: datetime | None = None) -> Nomination:
    """The selecting unit accepts a nomination (with its citation, within the quota) or does not
    (with a note). During the public notice an accepted nomination can still be withdrawn (not
    accepted, with a note), e.g. after an objection."""
    now = now_or(now)
    pk = getattr(nomination, "pk", nomination)
    n = Nomination.objects.filter(pk=pk).select_related("round__unit", "unit").first() if pk is not None else None
    if n is None or (user is not None and not Nomination.objects.restrict(user, "view").filter(pk=n.pk).exists()
                     and not SelectionRound.objects.restrict(user, "manage").filter(pk=n.round_id).exists()):
        raise NotFound()
    require(user, MANAGE, n.round.unit)
    citation = text(citation, "citation", limit=500, required=bool(accept))
    note = text(note, "note", limit=500, required=not accept)
    with transaction.atomic():
        r = SelectionRound.objects.select_for_update().get(pk=n.round_id)
        n = Nomination.objects.select_for_update().get(pk=n.pk)
        if r.state == SelectionState.NAMED:
            raise Conflict(_("This round is closed: its selection is named."))
        if r.state == SelectionState.PUBLICISED and (accept or n.state != NominationState.ACCEPTED):
            raise Conflict(_("During the public notice an accepted nomination can only be withdrawn."))
        before = {"state": n.state}
        if accept:
            taken = Nomination.objects.filter(round=r, state=NominationState.ACCEPTED).exclude(pk=n.pk).count()
            if taken >= r.quota:
                raise ServiceError(_("The quota of %(q)d is reached; withdraw an accepted nomination first.")
                                   % {"q": r.quota}, code="quota")
            n.state, n.citation = NominationState.ACCEPTED, citation
        else:
            n.state = NominationState.REJECTED
        n.review_note, n.reviewed_at, n.reviewed_by = note, now, user
        n.save(update_fields=["state", "citation", "review_note", "reviewed_at", "reviewed_by"])
        audit.record("evaluation.selection.review", n, before=before, after={
            "state": n.state, "citation": n.citation, "note": note}, now=now)
    return n


def publicise(user, rnd, *, now: datetime | None = None) -> SelectionRound:
    """The accepted (at most the quota, none left unreviewed) go on public notice (公示)."""
    now = now_or(now)
    r = get_round(user, rnd, "manage")
    with transaction.atomic():
        r = SelectionRound.objects.select_for_update().select_related("unit").get(pk=r.pk)
        if r.state != SelectionState.NOMINATING:
            raise Conflict(_("This round is publicised already."))
        open_ = Nomination.objects.filter(round=r, state=NominationState.NOMINATED).count()
        if open_:
            raise ServiceError(_("%(n)d nominations await review; review them first.") % {"n": open_},
                               code="incomplete")
        accepted = Nomination.objects.filter(round=r, state=NominationState.ACCEPTED).count()
        if not accepted:
            raise ServiceError(_("No nomination is accepted; nothing to publicise."), code="empty")
        if accepted > r.quota:
            raise ServiceError(_("%(n)d accepted exceed the quota of %(q)d.") % {"n": accepted, "q": r.quota},
                               code="quota")
        try:
            until = add_working_days(timezone.localtime(now).date(), r.notice_days).date()
        except CalendarUnknownYear:
            raise ServiceError(_("The working-day calendar of this year is not entered; enter it first."),
                               code="calendar")
        r.state, r.publicised_at, r.notice_until, r.version = SelectionState.PUBLICISED, now, until, r.version + 1
        r.save(update_fields=["state", "publicised_at", "notice_until", "version"])
        audit.record("evaluation.selection.publicise", r, after={"accepted": accepted, "notice_until": until},
                     now=now)
    return r


def name_selection(user, rnd, *, now: datetime | None = None) -> SelectionRound:
    """After the public notice, the accepted are named (with their citations); the round closes."""
    now = now_or(now)
    r = get_round(user, rnd, "manage")
    with transaction.atomic():
        r = SelectionRound.objects.select_for_update().select_related("unit").get(pk=r.pk)
        if r.state != SelectionState.PUBLICISED:
            raise Conflict(_("Only a publicised round is named."))
        if timezone.localtime(now).date() <= r.notice_until:
            raise ServiceError(_("The public notice runs until %(d)s; name the selection after it.")
                               % {"d": r.notice_until.isoformat()}, code="notice")
        named = Nomination.objects.filter(round=r, state=NominationState.ACCEPTED).update(
            state=NominationState.NAMED)
        r.state, r.named_at, r.version = SelectionState.NAMED, now, r.version + 1
        r.save(update_fields=["state", "named_at", "version"])
        audit.record("evaluation.selection.name", r, after={"named": named}, now=now)
    return r
