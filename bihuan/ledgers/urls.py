from django.urls import path

from . import views

app_name = "ledgers"

urlpatterns = [
    path("", views.register_list, name="register_list"),
    path("new/", views.register_create, name="register_create"),
    path("talents/ages/", views.talent_ages, name="talent_ages"),
    path("talents/ages.xlsx", views.talent_ages_xlsx, name="talent_ages_xlsx"),
    path("capacity/free/", views.free_places, name="free_places"),  # h-ledgers2: demand → free place
    path("dictionaries/", views.dictionary_list, name="dictionary_list"),  # h-ledgers2: shared dictionaries
    path("dictionaries/<slug:dict_code>/", views.dictionary_edit, name="dictionary_edit"),
    path("rounds/", views.round_list, name="round_list"),
    path("rounds/<id:round_id>/", views.round_detail, name="round_detail"),
    path("rounds/<id:round_id>/return/", views.round_return, name="round_return"),
    path("entries/<id:ledger_entry_id>/", views.entry_detail, name="entry_detail"),
    path("entries/<id:ledger_entry_id>/delete/", views.entry_delete, name="entry_delete"),
    path("entries/<id:ledger_entry_id>/files/<slug:key>/", views.entry_file, name="entry_file"),
    path("entries/<id:ledger_entry_id>/reveal/", views.entry_reveal, name="entry_reveal"),
    path("entries/<id:ledger_entry_id>/proposals/", views.office_proposal, name="office_proposal"),
    path("r/<slug:code>/", views.register_detail, name="register_detail"),
    path("r/<slug:code>/edit/", views.register_edit, name="register_edit"),
    path("r/<slug:code>/fields/", views.field_builder, name="field_builder"),
    path("r/<slug:code>/fields/<slug:key>/", views.field_edit, name="field_edit"),
    path("r/<slug:code>/fields/<slug:key>/remove/", views.field_remove, name="field_remove"),
    path("r/<slug:code>/definition.json", views.register_definition, name="register_definition"),
    path("r/<slug:code>/new/", views.entry_create, name="entry_create"),
    path("r/<slug:code>/export.xlsx", views.entry_export, name="entry_export"),
    path("r/<slug:code>/import/", views.entry_import, name="entry_import"),
    path("r/<slug:code>/rounds/new/", views.round_create, name="round_create"),
]
