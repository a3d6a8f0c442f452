"""The two rule tables of party life (issue 15 items 5–6), one place each.

* ``MEETING_RULES`` — how often each kind of branch meeting (三会一课, 主题党日) must be held.
  The city may change a frequency (``services.set_meeting_rule``, stored in ``MeetingRule``); this
  table is the default and the list of kinds.
* ``STEPS`` — the development of a member (发展党员): the stages, the steps taken in each, which
  steps must come first and the minimum time in a stage before the step that leaves it. These
  follow 《中国共产党发展党员工作细则》 and are not changeable by the city.

Both are read by the services (refusals), the selectors (compliance, "due for next step") and
shown on the pages and in docs/activities.md.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _


class MeetingKind(models.TextChoices):
    MEMBERS = "members", _("branch members' meeting (支部党员大会)")
    COMMITTEE = "committee", _("branch committee meeting (支委会)")
    GROUP = "group", _("party group meeting (党小组会)")
    LECTURE = "lecture", _("party lecture (党课)")
    THEME_DAY = "theme_day", _("theme party day (主题党日)")


# kind → months per period (1: every month, 3: every quarter). Periods are calendar months or quarters.
MEETING_RULES: dict[str, int] = {
    MeetingKind.COMMITTEE: 1,
    MeetingKind.MEMBERS: 3,
    MeetingKind.GROUP: 1,
    MeetingKind.LECTURE: 3,
    MeetingKind.THEME_DAY: 1,
}
ALLOWED_PERIODS = (1, 3)  # monthly or quarterly: a period must divide a quarter
# The organisations that hold 三会一课: party branches and general branches (orgs.PartyOrgKind values).
MEETING_ORG_KINDS = ("branch", "general_branch")


class Stage(models.TextChoices):
    APPLICANT = "applicant", _("applicant (入党申请人)")
    ACTIVIST = "activist", _("activist (入党积极分子)")
    TARGET = "target", _("development object (发展对象)")
    PROBATIONARY = "probationary", _("probationary member (预备党员)")
    FORMAL = "formal", _("full member (正式党员)")


@dataclass(frozen=True)
class Step:
    code: str
    label: str
    stage: str  # the stage the applicant is in when the step is taken
    requires: tuple[str, ...] = ()  # steps of the same stage that must come first
    to_stage: str | None = None  # the step moves the applicant on
    min_months: int = 0  # months in ``stage`` before this step (counted from entering the stage)


STEPS: tuple[Step, ...] = (
    Step("talk", "入党谈话", Stage.APPLICANT),
    Step("activist", "确定为入党积极分子", Stage.APPLICANT, ("talk",), Stage.ACTIVIST),
    Step("training", "培养教育考察", Stage.ACTIVIST),
    Step("target", "确定为发展对象", Stage.ACTIVIST, ("training",), Stage.TARGET, 12),
    Step("review", "政治审查", Stage.TARGET),
    Step("notice", "公示", Stage.TARGET, ("review",)),
    Step("vote", "支部大会讨论接收", Stage.TARGET, ("notice",)),
    Step("approval", "上级党委审批", Stage.TARGET, ("vote",), Stage.PROBATIONARY),
    Step("full", "预备期满转正", Stage.PROBATIONARY, (), Stage.FORMAL, 12),
)
STEP_BY_CODE = {s.code: s for s in STEPS}
# The step that moves an applicant out of each stage (the one "due" is about).
LEAVING_STEP = {s.stage: s for s in STEPS if s.to_stage}
REVIEW_STEP = "review"  # its note is the political review note (committee and above only)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def earliest(step: Step, stage_since: date) -> date:
    return add_months(stage_since, step.min_months)


def quarter_of(d: date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def quarter_bounds(q: str) -> tuple[date, date]:
    """``2026Q3`` → (2026-07-01, 2026-09-30); ValueError when malformed."""
    q = (q or "").strip().upper()
    if len(q) != 6 or q[4] != "Q" or not q[:4].isdigit() or q[5] not in "1234":
        raise ValueError(q)
    y, n = int(q[:4]), int(q[5])
    if not 2000 <= y <= 2100:
        raise ValueError(q)
    start = date(y, 3 * n - 2, 1)
    return start, date.fromordinal(add_months(start, 3).toordinal() - 1)


def period_start(d: date, months: int) -> date:
    return date(d.year, (d.month - 1) // months * months + 1, 1)
