from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "bihuan.activities"
    label = "activities"
    verbose_name = "党建活动 activities"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from bihuan.core import audit, jobs

        audit.register_action_labels({
            "activities.team.create": _("Create a lecture team"),
            "activities.lecturer.create": _("Add a lecturer"),
            "activities.lecturer.link": _("Link a lecturer's login"),
            "activities.session.create": _("Record a lecture session"),
            "activities.feedback.create": _("Rate a lecture session"),
            "activities.order.create": _("Order a lecture"),
            "activities.order.match": _("Match a lecture order"),
            "activities.order.accept": _("Accept a lecture order"),
            "activities.order.escalate": _("Open a matter for an unmatched lecture order"),
            "activities.lecturer.import": _("Import lecturers"),
            "activities.lecturer.export": _("Export lecturers"),
            # party life (items 7–9)
            "activities.election.record": _("Record a party organisation's re-election"),
            "activities.election.escalate": _("Open a matter for an overdue re-election"),
            "activities.election.export": _("Export the re-elections list"),
            "activities.contact.link": _("Link a contact point"),
            "activities.contact.visit": _("Record a contact-point visit"),
            "activities.contact.matter": _("Turn a contact-point visit's problems into a matter"),
            "activities.review.create": _("Create an on-site review"),
            "activities.review.score": _("Score a unit in an on-site review"),
            # party meetings and member development (items 5–6)
            "activities.meeting.create": _("Record a party meeting"),
            "activities.meeting.escalate": _("Open a matter for an overdue party meeting"),
            "activities.meeting_rule.change": _("Change a party meeting frequency"),
            "activities.meeting.import": _("Import party meetings"),
            "activities.meeting.export": _("Export party meetings"),
            "activities.applicant.create": _("Register a party applicant"),
            "activities.applicant.step": _("Record a party development step"),
            "activities.applicant.import": _("Import party applicants"),
            "activities.applicant.export": _("Export party applicants"),
        })

        from . import sources

        sources.register()  # evaluation sources and report section (core.registry)
        sources.register_party_life()  # the on-site review score (观摩评比)
        sources.register_meetings()  # 三会一课落实率 (issue 15 item 5)

        def _sweep(now):
            from .services import open_unmatched_orders

            return open_unmatched_orders(now)

        # Hourly: one loop matter per lecture order left unmatched past its limit (idempotent).
        jobs.register("activities.orders", every_seconds=60 * 60)(_sweep)

        def _elections(now):
            from .services import open_overdue_elections

            return open_overdue_elections(now)

        # Daily: one loop matter per party organisation whose re-election is overdue (idempotent).
        jobs.register("activities.elections", every_seconds=24 * 60 * 60)(_elections)

        def _meetings(now):
            from .services import open_overdue_meetings

            return open_overdue_meetings(now)

        # Daily: one loop matter per branch, meeting kind and period without the required meeting.
        jobs.register("activities.meetings", every_seconds=24 * 60 * 60)(_meetings)
