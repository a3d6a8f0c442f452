from django.urls import path

from . import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("my/", views.my_tasks, name="my_tasks"),
    path("assignments/", views.assignment_list, name="assignment_list"),
    path("assignments/<id:assignment_id>/", views.assignment_detail, name="assignment_detail"),
    path("assignments/<id:assignment_id>/checkin/", views.check_in, name="check_in"),
    path("evidence/<id:evidence_id>/", views.evidence_download, name="evidence"),
    path("<id:plan_id>/", views.plan_detail, name="plan_detail"),
    path("<id:plan_id>/publish/", views.plan_publish, name="plan_publish"),
    path("<id:plan_id>/map/", views.plan_map, name="plan_map"),
    path("<id:plan_id>/map.xlsx", views.plan_map_xlsx, name="plan_map_xlsx"),
]
