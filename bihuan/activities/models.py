"""Party life (issue 15): lecture teams (宣讲团), lecturers, 微课堂 sessions with public feedback,
lecture orders (点单) and coverage (全覆盖).

Models are thin; every change goes through ``activities.services``. Coverage and "recent
sessions" are derived in SQL from the sessions and ``now`` (``activities.selectors``), never
stored. A session keeps ``covered_unit``, the village or community (level 4) its place belongs
to: a fact of the place at the time, so coverage is one grouped query.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, unit_scope_q
from bihuan.orgs.models import OrgUnit


class TeamKind(models.TextChoices):
    """The seven kinds of Yanzhou's lecture teams (seed/FACTS.md)."""

    VETERAN = "veteran", _("retired cadres (老干部)")
    MODEL_WORKER = "model_worker", _("model workers and craftsmen (劳模工匠)")
    YOUTH = "youth", _("youth (青年)")
    WOMEN = "women", _("women (巾帼)")
    PRINCIPAL = "principal", _("school principals (中小学校长)")
    TEACHER = "teacher", _("teachers (教师)")
    SECRETARY = "secretary", _("branch secretaries (基层党组织书记)")


class Audience(models.TextChoices):
    VILLAGERS = "villagers", _("villagers (村民)")
    MEMBERS = "members", _("party members (党员)")
    YOUTH = "youth", _("young people (青少年)")
    WORKERS = "workers", _("enterprise employees (企业职工)")
    ELDERLY = "elderly", _("elderly people (老年人)")
    CADRES = "cadres", _("agency cadres (机关干部)")


class OrderState(models.TextChoices):
    OPEN = "open", _("waiting to be matched")
    MATCHED = "matched", _("matched, waiting for the lecturer")
    ACCEPTED = "accepted", _("accepted")
    DONE = "done", _("lecture given")


class LectureTeam(models.Model):
    """宣讲团: a team of lecturers under a unit (the district's, or a township's)."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=TeamKind.choices)
    topics = models.CharField(_("topics"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))

    scope_resource = "activities.team"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit__path", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="activities_team_name_unique")]
        verbose_name = _("lecture team")
        verbose_name_plural = _("lecture teams")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    @property
    def topic_list(self) -> list[str]:
        return [t for t in self.topics.split("、") if t]


class Lecturer(models.Model):
    """宣讲员: a person (``people.Person``, never copied) in a team, with topics and audiences.
    ``user`` is the account they log in with (the ``lecturer`` role) to record their own sessions."""

    team = models.ForeignKey(LectureTeam, on_delete=models.PROTECT, related_name="lecturers")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("person"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="lecturer_profiles", verbose_name=_("login"))
    topics = models.CharField(_("topics"), max_length=300, blank=True, default="")
    audiences = models.CharField(_("audiences"), max_length=120, blank=True, default="")  # codes, comma-separated
    excellent = models.BooleanField(_("city-level excellent lecturer"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"))

    scope_resource = "activities.team"
    scope_path_field = "team__unit__path"
    scope_unit_field = "team__unit_id"
    scope_owner_field = "user_id"
    objects = ScopedManager()

    class Meta:
        ordering = ["team_id", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "person"], name="activities_lecturer_unique")]
        verbose_name = _("lecturer")
        verbose_name_plural = _("lecturers")

    def __str__(self) -> str:
        return self.person.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.team.unit

    @property
    def audience_labels(self) -> list[str]:
        return [str(Audience(a).label) for a in self.audiences.split(",") if a in Audience.values]


def new_feedback_token() -> str:
    return secrets.token_urlsafe(12)


class SessionQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """A session is in scope where its place is, or where its team is (the district sees its
        teams' lectures given elsewhere); a lecturer with "own records" sees their own sessions."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"activities.session.{action}")
        if scope.empty:
            return self.none()
        place = unit_scope_q(scope, "place__path", "place_id")
        if place is None:
            return self
        if scope.user_id is not None:
            # "Own records" (a lecturer): their own sessions and those at the unit they are bound
            # to; not the team's (that binding's unit is often the team's own unit).
            return self.filter(place | models.Q(lecturer__user_id=scope.user_id))
        q = place | unit_scope_q(scope, "team__unit__path", "team__unit_id")
        return self.filter(q)


class Session(models.Model):
    """微课堂: one lecture given at a place to an audience."""

    team = models.ForeignKey(LectureTeam, on_delete=models.PROTECT, related_name="sessions")
    lecturer = models.ForeignKey(Lecturer, on_delete=models.PROTECT, related_name="sessions")
    place = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("place"))
    covered_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, db_index=False,
                                     related_name="covered_sessions")  # indexed by activities_session_cov
    held_on = models.DateField(_("date"))
    audience = models.CharField(_("audience"), max_length=12, choices=Audience.choices)
    topic = models.CharField(_("topic"), max_length=80)
    attendance = models.PositiveIntegerField(_("attendance"))
    note = models.TextField(_("note"), blank=True, default="")
    order = models.ForeignKey("LectureOrder", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    feedback_token = models.CharField(max_length=24, unique=True, default=new_feedback_token, editable=False)
    feedback_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("recorded at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "activities.session"
    scope_path_field = "place__path"
    scope_unit_field = "place_id"
    scope_owner_field = "lecturer__user_id"
    objects = ScopedManager.from_queryset(SessionQuerySet)()

    class Meta:
        ordering = ["-held_on", "-id"]
        # Coverage reads count and attendance from this index alone on PostgreSQL (INCLUDE).
        indexes = [models.Index(fields=["covered_unit", "held_on"], include=["attendance"],
                                name="activities_session_cov"),
                   models.Index(fields=["lecturer", "held_on"], name="activities_session_lect"),
                   models.Index(fields=["held_on"], name="activities_session_held")]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    def __str__(self) -> str:
        return f"{self.topic} @ {self.held_on}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.place

    @property
    def rating(self) -> float | None:
        return round(self.rating_sum / self.feedback_count, 1) if self.feedback_count else None


def photo_path(instance, filename: str) -> str:
    return f"activities/{instance.session_id}/{secrets.token_hex(8)}-{filename[-80:]}"


class SessionPhoto(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="photos")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=photo_path, max_length=255)

    scope_resource = "activities.session"
    scope_path_field = "session__place__path"
    scope_unit_field = "session__place_id"
    scope_owner_field = "session__lecturer__user_id"
    objects = ScopedManager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Feedback(models.Model):
    """An attendee's rating through the session's public link (no account). ``device`` is the hash
    of a random cookie: one rating per device and session."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(_("rating"))
    comment = models.CharField(_("comment"), max_length=300, blank=True, default="")
    device = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["session", "device"], name="activities_feedback_once")]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.rating}"


class LectureOrder(models.Model):
    """点单: a unit asks for a lecture on a topic for an audience within a date range. The district
    matches a team and lecturer; the lecturer accepts. Unmatched past ``match_by`` → one loop matter."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("ordering unit"))
    topic = models.CharField(_("topic"), max_length=80)
    audience = models.CharField(_("audience"), max_length=12, choices=Audience.choices)
    expected = models.PositiveIntegerField(_("expected attendance"), default=0)
    wanted_from = models.DateField(_("from"))
    wanted_to = models.DateField(_("to"))
    match_by = models.DateField(_("to be matched by"))
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    state = models.CharField(_("state"), max_length=10, choices=OrderState.choices, default=OrderState.OPEN)
    team = models.ForeignKey(LectureTeam, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lecturer = models.ForeignKey(Lecturer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    created_at = models.DateTimeField(_("ordered at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    matched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    matter_id = models.IntegerField(null=True, blank=True)  # loop.Matter, by id (the loop owns it)
    version = models.PositiveIntegerField(default=1)

    scope_resource = "activities.order"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = "lecturer__user_id"
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "match_by"], name="activities_order_due")]
        verbose_name = _("lecture order")
        verbose_name_plural = _("lecture orders")

    def __str__(self) -> str:
        return f"{self.topic} ({self.unit_id})"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


# --- party life: re-election terms (换届), contact points (联系点), on-site reviews (观摩评比) ---------
# Issue 15 items 7–9. Party organisations are ``orgs.PartyOrg`` (never copied); members and
# reviewers are logins. "Due" and "overdue" are derived from ``due_on`` and now (selectors).

class PartyTerm(models.Model):
    """One term (届) of a party organisation's committee: elected on ``started_on`` for ``years``
    years; ``due_on`` (the next re-election) is fixed when the term is recorded. The current term
    has no ``ended_on``; recording the re-election ends it and starts the next. An overdue term
    opens one loop matter (``matter_id``, claimed by ``escalated_at``)."""

    party_org = models.ForeignKey("orgs.PartyOrg", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("party organisation"))
    started_on = models.DateField(_("term started"))
    years = models.PositiveSmallIntegerField(_("term (years)"))
    due_on = models.DateField(_("next re-election due"))
    ended_on = models.DateField(_("term ended"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    escalated_at = models.DateTimeField(null=True, blank=True)
    matter_id = models.IntegerField(null=True, blank=True)  # loop.Matter, by id (the loop owns it)
    created_at = models.DateTimeField(_("recorded at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "activities.election"
    scope_path_field = "party_org__unit__path"
    scope_unit_field = "party_org__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [models.UniqueConstraint(fields=["party_org"], condition=models.Q(ended_on__isnull=True),
                                               name="activities_term_one_current")]
        indexes = [models.Index(fields=["ended_on", "due_on"], name="activities_term_due")]
        verbose_name = _("party organisation term")
        verbose_name_plural = _("party organisation terms")

    def __str__(self) -> str:
        return f"{self.party_org_id}: {self.started_on} +{self.years}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.party_org.unit


class ContactPoint(models.Model):
    """联系点: a committee member (a login) is the contact for a party branch from ``since``."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("committee member"))
    party_org = models.ForeignKey("orgs.PartyOrg", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("party branch"))
    since = models.DateField(_("since"))
    ended_on = models.DateField(_("until"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"))

    scope_resource = "activities.contact"
    scope_path_field = "party_org__unit__path"
    scope_unit_field = "party_org__unit_id"
    scope_owner_field = "member_id"
    objects = ScopedManager()

    class Meta:
        ordering = ["party_org__unit__path", "id"]
        constraints = [models.UniqueConstraint(fields=["member", "party_org"], condition=models.Q(ended_on__isnull=True),
                                               name="activities_contact_once")]
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")

    def __str__(self) -> str:
        return f"{self.member_id} → {self.party_org_id}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.party_org.unit


class ContactVisit(models.Model):
    """A visit of a member to their contact point: date, topic, problems found. The problems become
    one loop matter on request (``matter_id``)."""

    contact_point = models.ForeignKey(ContactPoint, on_delete=models.PROTECT, related_name="visits")
    visited_on = models.DateField(_("date"))
    topic = models.CharField(_("topic"), max_length=80)
    problems = models.TextField(_("problems found"), blank=True, default="")
    matter_id = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "activities.contact"
    scope_path_field = "contact_point__party_org__unit__path"
    scope_unit_field = "contact_point__party_org__unit_id"
    scope_owner_field = "contact_point__member_id"
    objects = ScopedManager()

    class Meta:
        ordering = ["-visited_on", "-id"]
        verbose_name = _("contact point visit")
        verbose_name_plural = _("contact point visits")

    def __str__(self) -> str:
        return f"{self.topic} @ {self.visited_on}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.contact_point.party_org.unit


class Review(models.Model):
    """观摩评比: a quarter's theme with an on-site review meeting organised by ``unit``; the units
    visited are scored by the reviewers; ``drop_extremes`` drops each unit's highest and lowest
    score (when it has at least three)."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("organising unit"))
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"))
    theme = models.CharField(_("theme"), max_length=80)
    held_on = models.DateField(_("review meeting"))
    drop_extremes = models.BooleanField(_("drop the highest and lowest score"), default=True)
    created_at = models.DateTimeField(_("recorded at"))

    scope_resource = "activities.review"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("on-site review")
        verbose_name_plural = _("on-site reviews")

    def __str__(self) -> str:
        return self.theme

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class ReviewUnit(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="units")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit visited"))

    scope_resource = "activities.review"
    scope_path_field = "review__unit__path"
    scope_unit_field = "review__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["review", "unit"], name="activities_review_unit_once")]

    def __str__(self) -> str:
        return f"{self.review_id}: {self.unit_id}"


class ReviewScore(models.Model):
    """One reviewer's score (0–100) for one unit visited; each reviewer scores each unit once."""

    review_unit = models.ForeignKey(ReviewUnit, on_delete=models.CASCADE, related_name="scores")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.DecimalField(_("score"), max_digits=4, decimal_places=1)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["review_unit", "reviewer"], name="activities_review_score_once")]

    def __str__(self) -> str:
        return f"{self.review_unit_id}: {self.score}"




# --- party meetings (三会一课, 主题党日) and member development (发展党员), issue 15 items 5–6 ----------
# Rules (meeting frequencies, stages, steps, minimum durations) live in ``party_rules``. Party
# organisations are ``orgs.PartyOrg`` and members/applicants ``people.Person``: never copied. Scope
# follows the organisation's unit (a branch sees its own, committees above their subtree).

from .party_rules import MeetingKind, Stage  # noqa: E402


class MeetingRule(models.Model):
    """The city's override of ``party_rules.MEETING_RULES`` for one kind (months per period)."""

    kind = models.CharField(_("kind"), max_length=12, choices=MeetingKind.choices, unique=True)
    every_months = models.PositiveSmallIntegerField(_("every (months)"))
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.every_months}"


class PartyMeeting(models.Model):
    """One meeting of a party organisation: 支部党员大会, 支委会, 党小组会, 党课 or 主题党日."""

    org = models.ForeignKey("orgs.PartyOrg", on_delete=models.PROTECT, related_name="+",
                            verbose_name=_("party organisation"))
    kind = models.CharField(_("kind"), max_length=12, choices=MeetingKind.choices)
    held_on = models.DateField(_("date"))
    topic = models.CharField(_("topic"), max_length=120)
    minutes = models.TextField(_("minutes"), blank=True, default="")
    attendees = models.PositiveIntegerField(_("attendees"), default=0)
    absentees = models.PositiveIntegerField(_("absentees"), default=0)
    created_at = models.DateTimeField(_("recorded at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "activities.meeting"
    scope_path_field = "org__unit__path"
    scope_unit_field = "org__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["org", "kind", "held_on"], name="activities_meeting_org"),
                   models.Index(fields=["held_on", "org", "kind"], name="activities_meeting_held")]
        verbose_name = _("party meeting")
        verbose_name_plural = _("party meetings")

    def __str__(self) -> str:
        return f"{self.topic} @ {self.held_on}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.org.unit


class MeetingAttendance(models.Model):
    """A member of the organisation at a meeting: present, or absent with the reason."""

    meeting = models.ForeignKey(PartyMeeting, on_delete=models.CASCADE, related_name="attendance")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    present = models.BooleanField(default=True)
    reason = models.CharField(_("reason"), max_length=120, blank=True, default="")

    class Meta:
        ordering = ["-present", "id"]
        constraints = [models.UniqueConstraint(fields=["meeting", "person"], name="activities_attendance_once")]

    def __str__(self) -> str:
        return f"{self.meeting_id}: {self.person_id}"


def meeting_photo_path(instance, filename: str) -> str:
    return f"activities/meetings/{instance.meeting_id}/{secrets.token_hex(8)}-{filename[-80:]}"


class MeetingPhoto(models.Model):
    meeting = models.ForeignKey(PartyMeeting, on_delete=models.CASCADE, related_name="photos")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=meeting_photo_path, max_length=255)

    scope_resource = "activities.meeting"
    scope_path_field = "meeting__org__unit__path"
    scope_unit_field = "meeting__org__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class MeetingEscalation(models.Model):
    """The loop matter opened for an organisation's missing meeting of one kind in one period
    (the app's side of the link: one per organisation, kind and period)."""

    org = models.ForeignKey("orgs.PartyOrg", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=MeetingKind.choices)
    period_start = models.DateField()
    matter_id = models.IntegerField(null=True, blank=True)  # loop.Matter, by id
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "kind", "period_start"],
                                               name="activities_meeting_escalation_once")]

    def __str__(self) -> str:
        return f"{self.org_id} {self.kind} {self.period_start}"


class Applicant(models.Model):
    """发展党员: a person's way from application to full membership in one organisation. The stage
    and the date it was entered are kept with the steps (``ApplicantStep``) that moved it."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("person"))
    org = models.ForeignKey("orgs.PartyOrg", on_delete=models.PROTECT, related_name="+",
                            verbose_name=_("party organisation"))
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices, default=Stage.APPLICANT)
    applied_on = models.DateField(_("applied on"))
    stage_since = models.DateField(_("in this stage since"))
    review_notes = models.TextField(_("political review notes"), blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    scope_resource = "activities.applicant"
    scope_path_field = "org__unit__path"
    scope_unit_field = "org__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["stage_since", "id"]
        constraints = [models.UniqueConstraint(fields=["person"], name="activities_applicant_person")]
        indexes = [models.Index(fields=["stage", "stage_since"], name="activities_applicant_due")]
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")

    def __str__(self) -> str:
        return f"{self.person_id} ({self.stage})"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.org.unit


class ApplicantStep(models.Model):
    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(_("step"), max_length=12)
    taken_on = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["taken_on", "id"]
        constraints = [models.UniqueConstraint(fields=["applicant", "step"], name="activities_step_once")]

    def __str__(self) -> str:
        return f"{self.applicant_id}: {self.step}"
