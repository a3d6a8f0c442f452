from django.urls import path

from . import views

app_name = "activities"

urlpatterns = [
    path("", views.home, name="home"),
    path("teams/<id:team_id>/", views.team_detail, name="team_detail"),
    path("sessions/", views.session_list, name="session_list"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/<id:session_id>/", views.session_detail, name="session_detail"),
    path("photos/<id:photo_id>/", views.photo, name="photo"),
    path("coverage/", views.coverage, name="coverage"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<id:order_id>/", views.order_detail, name="order_detail"),
    path("feedback/<str:feedback_token>/", views.feedback, name="feedback"),
    # party meetings, compliance and member development (issue 15 items 5–6)
    path("party/meetings/", views.meeting_list, name="meeting_list"),
    path("party/meetings/new/", views.meeting_new, name="meeting_new"),
    path("party/meetings/<id:meeting_id>/", views.meeting_detail, name="meeting_detail"),
    path("party/meeting-photos/<id:meeting_photo_id>/", views.meeting_photo, name="meeting_photo"),
    path("party/compliance/", views.compliance, name="compliance"),
    path("party/rules/", views.meeting_rules, name="meeting_rules"),
    path("party/applicants/", views.applicant_list, name="applicant_list"),
    path("party/applicants/<id:applicant_id>/", views.applicant_detail, name="applicant_detail"),
]

# party life: re-election, contact points, on-site reviews (issue 15 items 7–9)
urlpatterns += [
    path("party/elections/", views.election_list, name="election_list"),
    path("party/elections/export/", views.election_export, name="election_export"),
    path("party/orgs/<id:party_org_id>/", views.party_org_detail, name="party_org_detail"),
    path("party/contacts/", views.contact_list, name="contact_list"),
    path("party/contacts/<id:contact_id>/", views.contact_detail, name="contact_detail"),
    path("party/members/<id:user_id>/", views.member_contacts, name="member_contacts"),
    path("party/reviews/", views.review_list, name="review_list"),
    path("party/reviews/<id:review_id>/", views.review_detail, name="review_detail"),
]
