from django.db import migrations


def forwards(apps, schema_editor):
    # Adds the three administrator roles of separation of duties (三员分立, accounts.roles).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_login_security")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
