"""URLs of the loop: staff pages under ``loop/``, the public demand pages under ``demand/`` and
Open311 GeoReport v2 under ``open311/v2/``. Mounted with one line in ``bihuan/urls.py``."""

from django.urls import path

from . import open311, views, views_public, views_supervision

app_name = "loop"

urlpatterns = [
    path("loop/", views.inbox, name="inbox"),
    path("loop/new/", views.report, name="report"),
    path("loop/<int:pk>/", views.detail, name="detail"),
    path("loop/<int:pk>/act/<str:action>/", views.act, name="act"),
    path("loop/<int:pk>/files/<int:attachment_id>/", views.attachment, name="attachment"),
    path("loop/board/", views_supervision.board, name="board"),
    path("loop/board/<int:unit_id>/", views_supervision.board, name="board_unit"),
    path("loop/backlog/", views_supervision.backlog, name="backlog"),
    path("loop/backlog/<int:unit_id>/", views_supervision.backlog, name="backlog_unit"),
    path("loop/hotspots/", views_supervision.hotspots, name="hotspots"),
    path("loop/hotspots/<int:unit_id>/", views_supervision.hotspots, name="hotspots_unit"),
    path("loop/hotspots/proactive/", views_supervision.proactive, name="proactive"),
    # Residents, no account
    path("demand/", views_public.demand_form, name="demand_form"),
    path("demand/<str:token>/", views_public.demand_status, name="demand_status"),
    path("demand/<str:token>/rate/", views_public.demand_rate, name="demand_rate"),
    *open311.urlpatterns(),
]
