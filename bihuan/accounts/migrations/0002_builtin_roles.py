from django.db import migrations


def forwards(apps, schema_editor):
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
