from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("", views.person_list, name="person_list"),
    path("new/", views.person_create, name="person_create"),
    path("<id:pk>/", views.person_detail, name="person_detail"),
    path("<id:pk>/edit/", views.person_edit, name="person_edit"),
    path("<id:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("<id:pk>/vulnerability/", views.person_vulnerability, name="person_vulnerability"),
    path("households/", views.household_list, name="household_list"),
    path("households/new/", views.household_create, name="household_create"),
    path("households/<id:pk>/", views.household_detail, name="household_detail"),
    path("households/<id:pk>/members/", views.household_member, name="household_member"),
    path("households/<id:pk>/carer/", views.household_carer, name="household_carer"),
    path("grids/", views.grid_list, name="grid_list"),
    path("grids/<id:unit_id>/", views.grid_detail, name="grid_detail"),
    path("reserve/", views.reserve_pool, name="reserve"),
]
