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
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    path("campaigns/<id:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/targets/<id:target_id>/checkin/", views.campaign_check_in, name="campaign_check_in"),
    path("projects/", views.project_list, name="project_list"),
    path("projects/<id:project_id>/", views.project_detail, name="project_detail"),
    path("enterprises/", views.enterprise_list, name="enterprise_list"),
    path("enterprises/<id:enterprise_id>/", views.enterprise_detail, name="enterprise_detail"),
    path("<id:plan_id>/", views.plan_detail, name="plan_detail"),
    path("<id:plan_id>/publish/", views.plan_publish, name="plan_publish"),
    path("<id:plan_id>/map/", views.plan_map, name="plan_map"),
    path("<id:plan_id>/map.xlsx", views.plan_map_xlsx, name="plan_map_xlsx"),
]
