"""The one transition table of the loop.

Each action names the states it may start from, the state it leads to (``None``: the state
does not change, but the version and timeline do), the permission it needs, and which unit
of the matter the actor's scope for that permission must cover:

* ``dispatch_unit`` — the unit that dispatches and evaluates (交办单位, by default the township);
* ``handling_unit`` — the lead unit handling the matter (首接负责制);
* ``any`` — any unit of the matter (location, dispatching, lead or assisting unit).

``evaluate`` can lead to two states (pass → closed, fail → in progress); its ``to`` is the pass
outcome and the service picks the other one. ``similar_sweep`` (举一反三) keeps the matter's
state and creates check tasks for the lead unit's peers.

``check(user, matter, action)`` is the one answer to "may this user do this to this matter
now": state, permission, the unit the scope must cover (``core.scope.covers``) and each action's
own preconditions (``PRECONDITIONS``: already flagged, already rated, extension pending or
capped, no extension to decide, no peers to sweep). The service refuses with its verdict, the
API lists ``available_actions`` from it and the web page shows exactly those buttons, so an
action offered is one the service accepts. What the actor *types* (a reason, a target unit or
matter) is input, checked by the service after this. ``user=None`` (the system) skips
permission and scope but not the state or the preconditions.

**Acts of the lead unit itself** (``OWN_UNIT_ACTIONS``: accepting a dispatch, or sending it back)
belong to the people bound to the matter's ``handling_unit`` (``core.scope.binds_at``), not to
every unit above it. A unit above may take them only *on behalf* of the lead unit, explicitly and
with a reason: ``check(..., on_behalf=True)``; the service records it in the event and the audit
entry. ``available_actions`` lists what the user may do as themselves, ``on_behalf_actions`` what
they may do only on the lead unit's behalf (the API returns both; the page shows the second with
its checkbox and reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bihuan.core import scope
from bihuan.core.errors import PermissionDenied, ServiceError

from .models import ExtensionRequest, ExtensionStatus, Rating, State

S = State


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    to: str | None
    permission: str
    unit: str  # "dispatch_unit" | "handling_unit" | "any"
    label: object


_OPEN = (S.NEW, S.DISPATCHED, S.IN_PROGRESS, S.REPORTED)

TRANSITIONS: dict[str, Transition] = {t.action: t for t in [
    Transition("dispatch", (S.NEW,), S.DISPATCHED, "loop.matter.dispatch", "dispatch_unit", _("Dispatch")),
    Transition("accept", (S.DISPATCHED,), S.IN_PROGRESS, "loop.matter.handle", "handling_unit", _("Accept")),
    Transition("send_back", (S.DISPATCHED,), S.NEW, "loop.matter.handle", "handling_unit", _("Send back")),
    Transition("report_done", (S.IN_PROGRESS,), S.REPORTED, "loop.matter.handle", "handling_unit",
               _("Report done")),
    # 办理进展: an interim note with photos; no state changes (services.progress).
    Transition("progress", (S.IN_PROGRESS,), None, "loop.matter.handle", "handling_unit", _("Add progress")),
    Transition("evaluate", (S.REPORTED,), S.CLOSED, "loop.matter.evaluate", "dispatch_unit", _("Evaluate")),
    Transition("rate", (S.CLOSED,), None, "loop.matter.evaluate", "dispatch_unit", _("Record rating")),
    Transition("remind", (S.NEW, S.DISPATCHED, S.IN_PROGRESS, S.REPORTED), None, "loop.matter.supervise",
               "dispatch_unit", _("Remind")),
    Transition("flag", (S.NEW, S.DISPATCHED, S.IN_PROGRESS, S.REPORTED), None, "loop.matter.supervise",
               "dispatch_unit", _("Flag for supervision")),
    Transition("request_extension", (S.IN_PROGRESS,), None, "loop.matter.handle", "handling_unit",
               _("Request extension")),
    Transition("decide_extension", (S.IN_PROGRESS, S.REPORTED), None, "loop.matter.evaluate", "dispatch_unit",
               _("Decide extension")),
    Transition("reopen", (S.CLOSED,), S.IN_PROGRESS, "loop.matter.evaluate", "dispatch_unit", _("Reopen")),
    Transition("merge", (S.NEW, S.DISPATCHED, S.IN_PROGRESS), S.MERGED, "loop.matter.dispatch", "dispatch_unit",
               _("Merge into another matter")),
    Transition("similar_sweep", (S.CLOSED,), None, "loop.matter.supervise", "dispatch_unit",
               _("Similar-case sweep (举一反三)")),
]}

ACTIONS = tuple(TRANSITIONS)

# The pseudo-actions that are not state changes of an existing matter but write events too.
CREATE_ACTIONS = ("create", "close_with")


def get(action: str) -> Transition | None:
    return TRANSITIONS.get(action)


def allowed_from(state: str) -> list[str]:
    """Actions the table allows from ``state`` (before permission and scope checks)."""
    return [a for a, t in TRANSITIONS.items() if state in t.sources]


# --- what a user may do to a matter ---------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """``check``'s answer: allowed, or the refusal the service raises (its class, message, code)."""

    allowed: bool
    message: str = ""
    error: type[ServiceError] = ServiceError
    code: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    def raise_if_refused(self) -> None:
        if self.allowed:
            return
        if self.error is ServiceError:
            raise ServiceError(self.message, code=self.code or "invalid")
        raise self.error(self.message)


ALLOWED = Verdict(True)


def _refuse(message, code: str = "", error: type[ServiceError] = ServiceError) -> Verdict:
    return Verdict(False, str(message), error, code)


def _pending_extension(matter) -> bool:
    return ExtensionRequest.objects.filter(matter=matter, status=ExtensionStatus.PENDING).exists()


def _not_flagged(matter) -> Verdict:
    if matter.flagged:
        return _refuse(gettext("This matter is already under flagged supervision."), "already_flagged")
    return ALLOWED


def _not_rated(matter) -> Verdict:
    if Rating.objects.filter(matter=matter, round=matter.rounds).exists():
        return _refuse(gettext("This matter has already been rated."), "already_rated")
    return ALLOWED


def _extension_possible(matter) -> Verdict:
    if _pending_extension(matter):
        return _refuse(gettext("An extension request is already waiting for a decision."), "extension_pending")
    cat = matter.category
    if matter.extensions_used >= cat.max_extensions or cat.max_extension_days < 1:
        return _refuse(gettext("The extension cap is reached: %(cat)s allows %(n)d extension(s), %(used)d used.")
                       % {"cat": cat.name, "n": cat.max_extensions, "used": matter.extensions_used},
                       "extension_cap")
    return ALLOWED


def _extension_to_decide(matter) -> Verdict:
    if not _pending_extension(matter):
        return _refuse(gettext("There is no extension request to decide."), "no_extension")
    return ALLOWED


def _has_peers(matter) -> Verdict:
    from .services.routing import similar_sweep_targets  # services import this module

    if not similar_sweep_targets(matter)[1]:
        return _refuse(gettext("The lead unit has no peers."), "no_peers")
    return ALLOWED


# Each action's own conditions on the matter, after state, permission and scope.
PRECONDITIONS: dict[str, Callable[..., Verdict]] = {
    "flag": _not_flagged,
    "rate": _not_rated,
    "request_extension": _extension_possible,
    "decide_extension": _extension_to_decide,
    "similar_sweep": _has_peers,
}


# Acts that are the lead unit's own answer to a dispatch (see the module docstring).
OWN_UNIT_ACTIONS = ("accept", "send_back")


# Conditions other apps add on matters they opened (an app below the loop registers them in its
# AppConfig.ready(); the loop never imports it). Each takes the matter and returns a Verdict.
EXTRA_PRECONDITIONS: dict[str, list[Callable[..., Verdict]]] = {}


def register_precondition(action: str, condition: Callable[..., Verdict]) -> None:
    """Add ``condition(matter) -> Verdict`` to ``action`` (e.g. plans: 办结 needs the overdue check-in).

    The service, the API's ``actions`` and the page's buttons all go through ``check``, so the
    condition holds everywhere at once."""
    if action not in TRANSITIONS:
        raise ValueError(f"unknown action {action!r}")
    conditions = EXTRA_PRECONDITIONS.setdefault(action, [])
    if condition not in conditions:
        conditions.append(condition)


def refuse(message, code: str = "") -> Verdict:
    """A refusal for a registered precondition (a 400 with ``code`` from the service)."""
    return _refuse(message, code)


def check(user, matter, action: str, *, on_behalf: bool = False) -> Verdict:
    """May ``user`` (None: the system) perform ``action`` on ``matter`` now? The matter is one the
    user can see (the caller loaded it through ``restrict``). ``on_behalf``: the user, from a unit
    above the lead unit, explicitly acts in its name (only for ``OWN_UNIT_ACTIONS``)."""
    t = TRANSITIONS.get(action)
    if t is None:
        return _refuse(gettext("Unknown action %(a)s.") % {"a": action}, "unknown_action")
    if matter.state not in t.sources:
        allowed = ", ".join(str(State(s).label) for s in t.sources)
        return _refuse(
            gettext("Cannot %(action)s a matter that is %(state)s; this is possible only when it is: %(allowed)s.")
            % {"action": str(t.label).lower(), "state": State(matter.state).label, "allowed": allowed},
            "invalid_transition")
    if user is not None:
        if not scope.has_anywhere(user, t.permission):
            return _refuse(gettext("You do not have permission to %(action)s matters.")
                           % {"action": str(t.label).lower()}, error=PermissionDenied)
        if t.unit == "any":
            covered = scope.allows(user, t.permission, matter)
            unit = None
        else:
            unit = getattr(matter, t.unit)
            covered = scope.covers(user, t.permission, unit)
        if not covered:
            return _refuse(gettext("Only %(unit)s (or a unit above it) can %(action)s this matter.")
                           % {"unit": unit.name if unit else "?", "action": str(t.label).lower()},
                           error=PermissionDenied)
        if action in OWN_UNIT_ACTIONS and not on_behalf and not scope.binds_at(user, t.permission, unit):
            return _refuse(gettext("This is for %(unit)s itself to %(action)s. A unit above it may do it only on "
                                   "its behalf: tick “on behalf of %(unit)s” and give the reason.")
                           % {"unit": unit.name, "action": str(t.label).lower()},
                           "on_behalf_required", error=PermissionDenied)
    pre = PRECONDITIONS.get(action)
    verdict = pre(matter) if pre else ALLOWED
    for condition in EXTRA_PRECONDITIONS.get(action, ()):
        if not verdict:
            break
        verdict = condition(matter)
    return verdict


def can(user, matter, action: str) -> bool:
    return bool(check(user, matter, action))


def acts_on_behalf(user, matter, action: str) -> bool:
    """True when ``user`` may ``action`` only on the lead unit's behalf (from a unit above it)."""
    return (action in OWN_UNIT_ACTIONS and user is not None and matter.handling_unit is not None
            and not scope.binds_at(user, TRANSITIONS[action].permission, matter.handling_unit))


def can_on_behalf(user, matter, action: str) -> bool:
    """May ``user`` do ``action`` on the lead unit's behalf (and not as themselves)?"""
    return acts_on_behalf(user, matter, action) and bool(check(user, matter, action, on_behalf=True))


def on_behalf_actions(user, matter) -> list[str]:
    """The actions ``user`` may perform on ``matter`` now only on the lead unit's behalf, with a reason."""
    return [a for a in OWN_UNIT_ACTIONS if matter.state in TRANSITIONS[a].sources and can_on_behalf(user, matter, a)]


def available_actions(user, matter) -> list[str]:
    """The actions ``user`` may perform on ``matter`` now, in the table's order: what the API
    lists and the web page offers."""
    return [a for a in allowed_from(matter.state) if check(user, matter, a)]
