from django.db import migrations


def forwards(apps, schema_editor):
    # Built-in roles gain care.canteen.view / record / manage (accounts.roles CARE_*).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("care", "0006_canteens")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
