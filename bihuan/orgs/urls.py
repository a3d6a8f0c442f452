"""The organisation tree's pages. Included into the ``web`` namespace by ``web/urls.py`` so the URL
names (``web:tree``, ``web:unit_detail`` …) stay what every template and test already uses."""

from django.urls import path

from . import views

urlpatterns = [
    path("orgs/", views.tree, name="tree"),
    path("orgs/<id:pk>/", views.unit_detail, name="unit_detail"),
    path("orgs/<id:pk>/new-child/", views.unit_create_child, name="unit_create_child"),
    path("orgs/<id:pk>/edit/", views.unit_edit, name="unit_edit"),
    path("orgs/<id:pk>/move/", views.unit_move, name="unit_move"),
    path("orgs/<id:pk>/party-orgs/new/", views.partyorg_create, name="partyorg_create"),
]
