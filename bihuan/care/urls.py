from django.urls import path

from . import views

app_name = "care"

urlpatterns = [
    path("", views.board, name="board"),
    path("round/", views.my_round, name="round"),
    path("visits/<id:visit_id>/checkin/", views.visit_checkin, name="visit_checkin"),
    path("visits/<id:visit_id>/call/", views.visit_call, name="visit_call"),
    path("visits/<id:visit_id>/photo/", views.visit_photo, name="visit_photo"),
    path("surveys/", views.survey_list, name="survey_list"),
    path("surveys/todo/", views.survey_todo, name="survey_todo"),
    path("surveys/new/<id:person_id>/", views.survey_new, name="survey_new"),
    path("surveys/<id:survey_id>/", views.survey_detail, name="survey_detail"),
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/new/<id:person_id>/", views.plan_new, name="plan_new"),
    path("plans/<id:plan_id>/", views.plan_detail, name="plan_detail"),
    path("helpers/", views.helper_list, name="helper_list"),
    path("helpers/new/<id:person_id>/", views.helper_new, name="helper_new"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/<id:team_id>/", views.team_detail, name="team_detail"),
    path("records/<id:record_id>/decide/", views.record_decide, name="record_decide"),
    path("members/<id:member_id>/certificate.pdf", views.certificate, name="certificate"),
    path("canteens/", views.canteen_list, name="canteen_list"),
    path("canteens/<id:canteen_id>/", views.canteen_day, name="canteen_day"),
    path("canteens/<id:canteen_id>/meals/<id:visit_id>/serve/", views.canteen_serve, name="canteen_serve"),
    path("canteens/<id:canteen_id>/served/<id:meal_id>/undo/", views.canteen_unserve, name="canteen_unserve"),
    path("canteens/<id:canteen_id>/diners/", views.canteen_diners, name="canteen_diners"),
    path("canteens/<id:canteen_id>/month/", views.canteen_month, name="canteen_month"),
    path("canteens/<id:canteen_id>/month.xlsx", views.canteen_month_xlsx, name="canteen_month_xlsx"),
]
