from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "bihuan.people"
    label = "people"
