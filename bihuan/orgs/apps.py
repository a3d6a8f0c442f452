from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "bihuan.orgs"
    label = "orgs"
