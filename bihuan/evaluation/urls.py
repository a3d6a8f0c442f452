from django.urls import path

from . import views

app_name = "evaluation"

urlpatterns = [
    path("", views.index, name="index"),
    path("sets/new/", views.set_create, name="set_create"),
    path("sets/<id:set_id>/", views.set_detail, name="set_detail"),
    path("sets/<id:set_id>/indicators.xlsx", views.set_xlsx, name="set_xlsx"),  # h-eval2
    path("runs/<id:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<id:run_id>/publish/", views.run_publish, name="run_publish"),
    path("runs/<id:run_id>/recompute/", views.run_recompute, name="run_recompute"),
    path("runs/<id:run_id>/correct/", views.run_correct, name="run_correct"),
    path("runs/<id:run_id>/results.xlsx", views.run_xlsx, name="run_xlsx"),
    path("runs/<id:run_id>/results.pdf", views.run_pdf, name="run_pdf"),
    path("results/<id:result_id>/", views.result_detail, name="result_detail"),
    path("units/<id:unit_id>/", views.unit_history, name="unit_history"),
    path("scores/", views.scores, name="scores"),
    path("scores/<id:score_id>/approve/", views.score_approve, name="score_approve"),
    path("incidents/<id:incident_id>/approve/", views.incident_approve, name="incident_approve"),
    path("selections/", views.selections, name="selections"),
    path("selections/<id:round_id>/", views.selection_detail, name="selection_detail"),
    path("selections/<id:round_id>/nominations.xlsx", views.selection_xlsx, name="selection_xlsx"),
    path("selections/<id:round_id>/publicise/", views.selection_step, {"step": "publicise"},
         name="selection_publicise"),
    path("selections/<id:round_id>/name/", views.selection_step, {"step": "name"}, name="selection_name"),
    path("selections/nominations/<id:nomination_id>/review/", views.nomination_review, name="nomination_review"),
    path("points/", views.points_ranking, name="points"),
    path("points/households/<id:household_id>/", views.household_points, name="household_points"),
    path("points/entries/<id:entry_id>/approve/", views.entry_approve, name="entry_approve"),
    path("points/entries/<id:entry_id>/reverse/", views.entry_reverse, name="entry_reverse"),
    # points2: the household's balance link (staff makes it; residents open it without an account)
    path("points/households/<id:household_id>/link/", views.household_link, name="household_link"),
    path("points/my/<str:points_token>/", views.points_status, name="points_status"),
]
