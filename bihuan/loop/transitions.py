"""The one transition table of the loop.

Each action names the states it may start from, the state it leads to (``None``: the state
does not change, but the version and timeline do), the permission it needs, and which unit
of the matter the actor's scope for that permission must cover:

* ``dispatch_unit`` — the unit that dispatches and evaluates (交办单位, by default the township);
* ``handling_unit`` — the lead unit handling the matter (首接负责制);
* ``any`` — any unit of the matter (location, dispatching, lead or assisting unit).

``evaluate`` can lead to two states (pass → closed, fail → in progress); its ``to`` is the pass
outcome and the service picks the other one. Nothing outside ``loop.services`` reads this
table to change a matter; the web and API read it to show which actions are possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .models import State

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
    Transition("evaluate", (S.REPORTED,), S.CLOSED, "loop.matter.evaluate", "dispatch_unit", _("Evaluate")),
    Transition("rate", (S.CLOSED,), None, "loop.matter.evaluate", "dispatch_unit", _("Record rating")),
    Transition("remind", (S.DISPATCHED, S.IN_PROGRESS, S.REPORTED), None, "loop.matter.supervise",
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
]}

ACTIONS = tuple(TRANSITIONS)

# The pseudo-actions that are not state changes of an existing matter but write events too.
CREATE_ACTIONS = ("create", "close_with")


def get(action: str) -> Transition | None:
    return TRANSITIONS.get(action)


def allowed_from(state: str) -> list[str]:
    """Actions the table allows from ``state`` (before permission and scope checks)."""
    return [a for a, t in TRANSITIONS.items() if state in t.sources]
